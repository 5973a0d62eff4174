"""`/api/v1/payments/methods` over HTTP: mobile-money numbers only, stored as E.164, masked,
one per number, a default that survives deletion, verified by a successful collection, and
card numbers refused and found nowhere (database, logs)."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
import sqlalchemy as sa

from nexgate.kernel.money import Money
from nexgate.payments import api

pytestmark = pytest.mark.integration

METHODS = "/api/v1/payments/methods"
CARD = "4111 1111 1111 1111"


async def add(client, headers, **body):
    return await client.post(METHODS, json=body, headers=headers)


async def test_phone_forms_operator_override_masking_and_duplicates(client, bearer) -> None:
    me = bearer(uuid.uuid4())
    created = await add(client, me, phone="0754 123 456", label="Vodacom")
    assert created.status_code == 201, created.text
    method = created.json()
    assert method["phone"] == "**********456"
    assert (method["country"], method["operator"], method["operatorOverride"]) == ("TZ", "vodacom", None)
    assert method["isDefault"] is True
    assert method["verified"] is False
    # Every usual form of the same number is the same number: 409.
    for form in ("754123456", "255754123456", "+255 754 123 456"):
        again = await add(client, me, phone=form)
        assert again.status_code == 409, form
        assert again.json()["code"] == "payment_method_exists"
    kenyan = await add(client, me, phone="+254 712 345 678")
    assert kenyan.status_code == 201
    assert (kenyan.json()["country"], kenyan.json()["operator"], kenyan.json()["isDefault"]) == (
        "KE",
        "safaricom",
        False,
    )
    # A ported number: the user overrides the prefix table, then goes back to it.
    ported = await add(client, me, phone="0784123456", operator="vodacom")
    assert (ported.json()["operator"], ported.json()["operatorOverride"]) == ("vodacom", "vodacom")
    reset = await client.patch(f"{METHODS}/{ported.json()['id']}", json={"operator": None}, headers=me)
    assert reset.status_code == 200, reset.text
    assert (reset.json()["operator"], reset.json()["operatorOverride"]) == ("airtel", None)
    listed = (await client.get(METHODS, headers=me)).json()["items"]
    assert [m["id"] for m in listed] == [ported.json()["id"], kenyan.json()["id"], method["id"]]
    assert all(set(m["phone"][:-3]) == {"*"} for m in listed)


@pytest.mark.parametrize(
    ("body", "code", "path"),
    [
        ({"phone": "12"}, "invalid_phone", "phone"),
        ({"phone": "+44 7700 900123"}, "invalid_phone", "phone"),
        ({"phone": "0754123456", "operator": "mtn"}, "invalid_operator", "operator"),
    ],
)
async def test_bad_method_bodies_are_problems(client, bearer, body, code, path) -> None:
    response = await add(client, bearer(uuid.uuid4()), **body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert [e["path"] for e in response.json()["errors"]] == [path]


async def test_unknown_fields_are_refused(client, bearer) -> None:
    response = await client.post(
        METHODS, json={"phone": "0754123456", "verified": True}, headers=bearer(uuid.uuid4())
    )
    assert response.status_code in (400, 422)


async def test_deleting_the_default_promotes_the_newest(client, bearer) -> None:
    me = bearer(uuid.uuid4())
    first = (await add(client, me, phone="0754123456")).json()
    second = (await add(client, me, phone="0755123456")).json()
    third = (await add(client, me, phone="0756123456")).json()
    assert [first["isDefault"], second["isDefault"], third["isDefault"]] == [True, False, False]
    made = await client.patch(f"{METHODS}/{second['id']}", json={"isDefault": True}, headers=me)
    assert made.json()["isDefault"] is True
    assert (await client.get(f"{METHODS}/{first['id']}", headers=me)).json()["isDefault"] is False
    deleted = await client.delete(f"{METHODS}/{second['id']}", headers=me)
    assert deleted.status_code == 204
    assert (await client.get(f"{METHODS}/{second['id']}", headers=me)).status_code == 404
    assert (await client.get(f"{METHODS}/{third['id']}", headers=me)).json()["isDefault"] is True
    assert (await client.get(f"{METHODS}/{first['id']}", headers=me)).json()["isDefault"] is False


async def test_another_user_gets_404_on_every_method_route(client, bearer) -> None:
    owner, stranger = bearer(uuid.uuid4()), bearer(uuid.uuid4())
    method = (await add(client, owner, phone="0754123456")).json()
    url = f"{METHODS}/{method['id']}"
    assert (await client.get(url, headers=stranger)).status_code == 404
    assert (await client.patch(url, json={"label": "mine"}, headers=stranger)).status_code == 404
    assert (await client.delete(url, headers=stranger)).status_code == 404
    assert (await client.get(METHODS, headers=stranger)).json()["items"] == []
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=owner)).json()["label"] is None


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {record.__dict__}")


async def test_a_card_number_is_refused_and_found_nowhere(settings, contexts, bearer, runtime, capfd) -> None:
    from litestar.testing import AsyncTestClient

    from nexgate.api.asgi import create_app

    app = create_app(settings.model_copy(update={"log_level": "DEBUG"}), contexts=list(contexts.values()))
    collect = _Collect()
    root = logging.getLogger()
    root.addHandler(collect)
    previous = root.level
    root.setLevel(logging.DEBUG)
    digits = CARD.replace(" ", "")
    payer = uuid.uuid4()
    intent = await api.create_intent(
        runtime,
        actor=api.Actor.system("commerce"),
        payer_id=payer,
        amount=Money.of(1000, "TZS"),
        purpose="order",
        reference="card-test",
        splits=[api.Split(uuid.uuid4(), Money.of(1000, "TZS"), "line")],
        idempotency_key="card-test",
    )
    try:
        async with AsyncTestClient(app, raise_server_exceptions=False) as client:
            me = bearer(payer)
            refused = [
                await add(client, me, phone=CARD),
                await add(client, me, phone=digits),
                await client.post(
                    f"/api/v1/payments/intents/{intent.id}/attempts",
                    json={"method": "mobileMoney", "phone": CARD},
                    headers={**me, "Idempotency-Key": "card-1"},
                ),
                await client.post(
                    "/api/v1/payments/wallet/withdrawals",
                    json={"amount": {"amount": 100000, "currency": "TZS"}, "phone": digits},
                    headers={**me, "Idempotency-Key": "card-2"},
                ),
            ]
    finally:
        root.removeHandler(collect)
        root.setLevel(previous)
    for response in refused:
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "card_numbers_not_accepted"
        assert digits not in response.text
        assert CARD not in response.text
    out, err = capfd.readouterr()
    for text in (out, err, *collect.lines):
        assert digits not in text
        assert CARD not in text
    # Nowhere in the database: every text-ish column of every payments table.
    async with runtime.database().sessions() as session:
        tables = (
            await session.execute(
                sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'payments'")
            )
        ).scalars()
        for table in list(tables):
            rows = await session.execute(sa.text(f'SELECT t::text FROM payments."{table}" AS t'))  # noqa: S608
            for (row,) in rows.all():
                assert digits not in row.replace(" ", "").replace("-", ""), table


async def test_a_method_is_verified_after_a_successful_collection(sandbox_live, bearer) -> None:
    live = sandbox_live
    payer = uuid.uuid4()
    me = bearer(payer)
    method = (await live.http.post(METHODS, json={"phone": "+254712345678"}, headers=me)).json()
    other = (await live.http.post(METHODS, json={"phone": "254722345678"}, headers=me)).json()
    topup = await live.http.post(
        "/api/v1/payments/wallet/top-ups",
        json={"amount": {"amount": 100000, "currency": "KES"}},
        headers={**me, "Idempotency-Key": "t1"},
    )
    attempt = await live.http.post(
        f"/api/v1/payments/intents/{topup.json()['id']}/attempts",
        json={"method": "mobileMoney", "paymentMethodId": method["id"]},
        headers={**me, "Idempotency-Key": "a1"},
    )
    assert attempt.status_code == 201, attempt.text
    assert attempt.json()["phone"] == "**********678"
    for _ in range(100):
        got = (await live.http.get(f"{METHODS}/{method['id']}", headers=me)).json()
        if got["verified"]:
            break
        await asyncio.sleep(0.05)
    assert got["verified"] is True
    assert (await live.http.get(f"{METHODS}/{other['id']}", headers=me)).json()["verified"] is False
    # Another user's method id cannot be paid with.
    stranger = uuid.uuid4()
    theirs = await live.http.post(
        "/api/v1/payments/wallet/top-ups",
        json={"amount": {"amount": 100000, "currency": "KES"}},
        headers={**bearer(stranger), "Idempotency-Key": "t2"},
    )
    borrowed = await live.http.post(
        f"/api/v1/payments/intents/{theirs.json()['id']}/attempts",
        json={"method": "mobileMoney", "paymentMethodId": method["id"]},
        headers={**bearer(stranger), "Idempotency-Key": "a2"},
    )
    assert borrowed.status_code == 404
