"""Test harness shared by every context: real services, isolated per worker and per test.

Loaded as a pytest plugin from the repository's root ``conftest.py``.
"""
