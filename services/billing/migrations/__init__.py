"""Alembic migrations of the billing tables (version table alembic_version_billing)."""
