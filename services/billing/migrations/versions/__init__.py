"""Billing migration revisions, written by hand."""
