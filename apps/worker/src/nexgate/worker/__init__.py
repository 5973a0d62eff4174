"""Nexgate worker: consumers of the hosted contexts, the outbox relay and the scheduler."""
