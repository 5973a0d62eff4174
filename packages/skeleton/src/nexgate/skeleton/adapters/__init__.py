"""Adapters: the only layer that knows HTTP, SQL, the broker and outside systems."""
