import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from nexgate.kernel.sql.keyset import keyset_after

metadata = sa.MetaData()
products = sa.Table(
    "products",
    metadata,
    sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("shop_id", sa.Integer, nullable=False),
)
KEY = [products.c.created_at, products.c.id]
AFTER = [datetime(2026, 11, 25, 12, 0, tzinfo=UTC), uuid.UUID(int=7)]


def _compile(stmt: sa.Select) -> tuple[str, dict[str, object]]:
    compiled = stmt.compile(dialect=postgresql.dialect())
    return " ".join(str(compiled).split()), dict(compiled.params)


def test_first_page_descending_orders_and_fetches_one_extra_row() -> None:
    sql, params = _compile(keyset_after(sa.select(products.c.id), KEY, None, limit=20))
    assert "WHERE" not in sql
    assert sql.endswith("ORDER BY products.created_at DESC, products.id DESC LIMIT %(param_1)s::INTEGER")
    assert params == {"param_1": 21}


def test_next_page_descending_uses_a_row_value_less_than() -> None:
    stmt = sa.select(products.c.id).where(products.c.shop_id == 5)
    sql, params = _compile(keyset_after(stmt, KEY, AFTER, limit=20))
    assert (
        "WHERE products.shop_id = %(shop_id_1)s::INTEGER"
        " AND (products.created_at, products.id)"
        " < (%(param_1)s::TIMESTAMP WITH TIME ZONE, %(param_2)s::UUID)"
        " ORDER BY products.created_at DESC, products.id DESC"
        " LIMIT %(param_3)s::INTEGER"
    ) in sql
    assert params == {"shop_id_1": 5, "param_1": AFTER[0], "param_2": AFTER[1], "param_3": 21}


def test_next_page_ascending_uses_greater_than() -> None:
    sql, params = _compile(keyset_after(sa.select(products), KEY, AFTER, descending=False, limit=5))
    assert "WHERE (products.created_at, products.id) > (" in sql
    assert "ORDER BY products.created_at ASC, products.id ASC" in sql
    assert " < " not in sql
    assert params["param_3"] == 6


def test_existing_order_and_limit_are_replaced() -> None:
    stmt = sa.select(products).order_by(products.c.shop_id).limit(3)
    sql, params = _compile(keyset_after(stmt, [products.c.id], None, limit=10))
    assert sql.split(" ORDER BY ")[1] == "products.id DESC LIMIT %(param_1)s::INTEGER"
    assert params == {"param_1": 11}


def test_single_column_key() -> None:
    sql, params = _compile(keyset_after(sa.select(products), [products.c.id], [AFTER[1]], limit=1))
    assert "WHERE (products.id) < (%(param_1)s::UUID)" in sql
    assert params == {"param_1": AFTER[1], "param_2": 2}


@pytest.mark.parametrize(
    ("columns", "values", "limit", "message"),
    [([], None, 10, "at least one column"), (KEY, [AFTER[0]], 10, "expected 2"), (KEY, None, 0, "limit")],
)
def test_misuse_is_refused(columns: list, values: list | None, limit: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        keyset_after(sa.select(products), columns, values, limit=limit)
