"""The wallet statement over HTTP: the caller's own postings, newest first, in cursor pages."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from nexgate.kernel.ids import new_id
from nexgate.kernel.money import Money
from nexgate.payments.adapters.sql.ledger import SqlLedger
from nexgate.payments.domain.ledger import AccountRef, transfer

pytestmark = pytest.mark.integration

STATEMENT = "/api/v1/payments/wallet/statement"


async def move(runtime, source, target, money: Money, kind: str = "test") -> None:
    entry = transfer(
        id=new_id(),
        kind=kind,
        reference="test",
        idempotency_key=str(uuid.uuid4()),
        source=source,
        targets=[(target, money)],
    )
    async with runtime.database().sessions() as session, session.begin():
        assert await SqlLedger(session).post(entry)


async def test_statement_pages_my_postings_with_running_balance(client, runtime, bearer) -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    mine = AccountRef.wallet(me, "KES")
    clearing = AccountRef.clearing("mpesa", "KES")
    for major in range(1, 6):  # +1, +2, ... +5 KES
        await move(runtime, clearing, mine, Money.of(major, "KES"), kind="collection")
    await move(
        runtime, mine, AccountRef.escrow(uuid.uuid4(), "KES"), Money.of(4, "KES"), kind="wallet_payment"
    )
    await move(
        runtime, AccountRef.clearing("selcom", "TZS"), AccountRef.wallet(me, "TZS"), Money.of(700, "TZS")
    )
    # Someone else's money never shows up in my statement.
    await move(runtime, clearing, AccountRef.wallet(other, "KES"), Money.of(99, "KES"))

    seen: list[dict] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        response = await client.get(STATEMENT, params=params, headers=bearer(me))
        assert response.status_code == 200, response.text
        body = response.json()
        seen += body["items"]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == 7
    assert [(line["amount"]["amount"], line["balanceAfter"]["amount"]) for line in seen] == [
        (70_000, 70_000),
        (-400, 1_100),
        (500, 1_500),
        (400, 1_000),
        (300, 600),
        (200, 300),
        (100, 100),
    ]
    assert seen[1]["kind"] == "wallet_payment"
    assert {line["amount"]["currency"] for line in seen} == {"KES", "TZS"}

    kes_only = (await client.get(STATEMENT, params={"currency": "KES"}, headers=bearer(me))).json()
    assert [line["amount"]["currency"] for line in kes_only["items"]] == ["KES"] * 6
    theirs = (await client.get(STATEMENT, headers=bearer(other))).json()
    assert [line["amount"]["amount"] for line in theirs["items"]] == [9_900]
    nobody = (await client.get(STATEMENT, headers=bearer(uuid.uuid4()))).json()
    assert nobody == {"items": [], "nextCursor": None}
    # from (inclusive) / to (exclusive) bound the time of the postings.
    newest = datetime.fromisoformat(seen[0]["createdAt"])
    only_newest = (
        await client.get(STATEMENT, params={"from": seen[0]["createdAt"]}, headers=bearer(me))
    ).json()
    assert [line["amount"]["amount"] for line in only_newest["items"]] == [70_000]
    before = (await client.get(STATEMENT, params={"to": newest.isoformat()}, headers=bearer(me))).json()
    assert len(before["items"]) == 6
    assert 70_000 not in [line["amount"]["amount"] for line in before["items"]]


async def test_statement_refuses_bad_queries_and_anonymous_callers(client, bearer) -> None:
    assert (await client.get(STATEMENT)).status_code == 401
    for params, code in (
        ({"limit": 0}, "invalid_limit"),
        ({"limit": 101}, "invalid_limit"),
        ({"cursor": "forged"}, "invalid_cursor"),
        ({"currency": "XYZ"}, "unsupported_currency"),
    ):
        response = await client.get(STATEMENT, params=params, headers=bearer(uuid.uuid4()))
        assert (response.status_code, response.json()["code"]) == (422, code), params
