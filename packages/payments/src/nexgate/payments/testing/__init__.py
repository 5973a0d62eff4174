"""Fake mobile-money providers for tests and local demos (never used in production)."""
