"""Test and benchmark support for the chat context (never imported by production code)."""
