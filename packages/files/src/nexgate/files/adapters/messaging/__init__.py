"""Messaging adapter: the files worker's consumers."""
