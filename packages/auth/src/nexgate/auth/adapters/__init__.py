"""Adapters: the only layer that knows HTTP, SQL, Redis and cryptographic libraries."""
