"""Redis adapters of the files context."""
