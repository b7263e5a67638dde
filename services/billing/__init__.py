"""Billing service: wallets, an append-only ledger and credit reservations (reserve, capture, release)."""
