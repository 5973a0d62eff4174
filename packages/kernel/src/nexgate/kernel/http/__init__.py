"""Litestar glue shared by every context: problem+json, auth, idempotency, rate limits."""
