"""Nexgate shared kernel: only what every context needs, once."""
