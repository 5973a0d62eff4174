"""Keyset pagination for SQLAlchemy ``Select`` statements.

Keyset instead of OFFSET: the cost of a page does not grow with its depth, and
rows inserted while a client scrolls do not shift it into duplicates or gaps.
The sort columns must be NOT NULL and together unique (end with the id), or
rows that tie on the key would be skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, literal, tuple_


def keyset_after(
    stmt: Select[Any],
    columns: Sequence[ColumnElement[Any]],
    values: Sequence[Any] | None,
    *,
    descending: bool = True,
    limit: int,
) -> Select[Any]:
    """Order ``stmt`` by ``columns``, start after ``values`` and fetch ``limit + 1`` rows.

    One direction for all columns on purpose: then the row-value comparison
    ``(a, b) < (x, y)`` is exactly "after this key" and PostgreSQL can answer
    it from a single composite index scan. Any ORDER BY or LIMIT already on
    ``stmt`` is replaced, since a different order would break the cursor.
    """
    if not columns:
        raise ValueError("keyset pagination needs at least one column")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if values is not None:
        if len(values) != len(columns):
            raise ValueError(f"expected {len(columns)} cursor values, got {len(values)}")
        # Bind each value with its column's type so UUIDs and timestamps reach
        # the driver as those types, not as whatever the Python value suggests.
        bound = tuple_(*(literal(v, c.type) for c, v in zip(columns, values, strict=True)))
        key = tuple_(*columns)
        stmt = stmt.where(key < bound if descending else key > bound)
    order = [c.desc() if descending else c.asc() for c in columns]
    return stmt.order_by(None).order_by(*order).limit(limit + 1)
