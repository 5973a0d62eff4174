"""HTTP adapter of the auth context."""
