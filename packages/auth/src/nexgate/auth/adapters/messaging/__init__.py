"""Messaging adapter of the auth context (auth consumes no other context's messages)."""
