"""Messaging adapter: the context's FastStream router with thin consumers."""
