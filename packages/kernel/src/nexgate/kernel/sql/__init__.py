"""SQLAlchemy helpers shared by every context's sql adapters."""
