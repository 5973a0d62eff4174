"""Messaging between contexts: broker factory, naming, consumers, outbox relay, scheduler."""
