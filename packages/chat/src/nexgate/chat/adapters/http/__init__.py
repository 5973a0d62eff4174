"""Chat context."""
