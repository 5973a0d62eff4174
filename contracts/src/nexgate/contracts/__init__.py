"""Nexgate message contracts: the facts contexts publish to each other.

Each context has one module here (``nexgate.contracts.commerce``...). Every
class derives from :class:`Contract` and is registered by its tag.
"""

from nexgate.contracts.base import Contract, contract_for, registered_contracts

__all__ = ["Contract", "contract_for", "registered_contracts"]
