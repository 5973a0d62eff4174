"""Admin routes and the owner's view: wallet freezes (the owner cannot lift an admin's), the
withdrawal review queue with daily limits and counts, the ambiguous-attempt queue, `GET /holds`
lists and `GET /transactions/{entryId}`; 403 for non-admins on every admin route and 404 for
other users on every id route."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import msgspec
import pytest
import sqlalchemy as sa

from nexgate.kernel.errors import ValidationFailed
from nexgate.kernel.ids import new_id
from nexgate.kernel.money import Money
from nexgate.payments import api
from nexgate.payments.adapters.sql.ledger import SqlLedger, verify_ledger
from nexgate.payments.adapters.sql.repository import sql_unit_of_work
from nexgate.payments.application import payouts
from nexgate.payments.domain.intents import Attempt, AttemptStatus
from nexgate.payments.domain.ledger import AccountRef, transfer
from nexgate.payments.domain.payouts import PayoutStatus, WithdrawalLimits
from nexgate.payments.ports import PayoutAccepted

pytestmark = pytest.mark.integration

KES = "KES"
P = "/api/v1/payments"
COMMERCE = api.Actor.system("commerce")


def kes(major: int) -> Money:
    return Money.of(major, KES)


async def fund(runtime, user: uuid.UUID, major: int) -> None:
    entry = transfer(
        id=new_id(),
        kind="test_topup",
        reference="test",
        idempotency_key=str(uuid.uuid4()),
        source=AccountRef.clearing("mpesa", KES),
        targets=[(AccountRef.wallet(user, KES), kes(major))],
    )
    async with runtime.database().sessions() as session, session.begin():
        assert await SqlLedger(session).post(entry)


async def order(runtime, payer: uuid.UUID, major: int, payee: uuid.UUID | None = None) -> api.Intent:
    return await api.create_intent(
        runtime,
        actor=COMMERCE,
        payer_id=payer,
        amount=kes(major),
        purpose="order",
        reference=f"order-{uuid.uuid4().hex[:10]}",
        splits=[api.Split(payee or uuid.uuid4(), kes(major), "line")],
        idempotency_key=str(uuid.uuid4()),
    )


async def balance(runtime, ref: AccountRef) -> int:
    async with runtime.database().sessions() as session:
        return (await SqlLedger(session).balance(ref)).amount


async def problems(runtime) -> list[str]:
    async with runtime.database().sessions() as session:
        return await verify_ledger(session)


async def messages(runtime, tag: str) -> list[dict]:
    async with runtime.database().sessions() as session:
        rows = await session.execute(
            sa.text("SELECT payload FROM payments.outbox WHERE tag = :tag ORDER BY created_at, id"),
            {"tag": tag},
        )
        return [msgspec.json.decode(r[0]) for r in rows.all()]


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def test_an_admin_freeze_blocks_the_wallet_and_only_an_admin_lifts_it(client, runtime, bearer) -> None:
    user, admin = uuid.uuid4(), bearer(uuid.uuid4(), roles=("admin",))
    me = bearer(user)
    await fund(runtime, user, 5000)
    paid = await order(runtime, user, 1000)
    assert (
        await client.post(
            f"{P}/intents/{paid.id}/attempts", json={"method": "wallet"}, headers={**me, **key()}
        )
    ).status_code == 201
    frozen = await client.post(f"{P}/admin/wallets/{user}/freeze", headers=admin)
    assert frozen.status_code == 200, frozen.text
    assert frozen.json() == {"userId": str(user), "frozen": True, "frozenBy": "admin"}
    wallet = (await client.get(f"{P}/wallet", headers=me)).json()
    assert {(b["available"]["currency"], b["frozen"]) for b in wallet["balances"]} == {
        ("KES", True),
        ("TZS", True),
    }
    blocked = await client.post(
        f"{P}/intents/{(await order(runtime, user, 100)).id}/attempts",
        json={"method": "wallet"},
        headers={**me, **key()},
    )
    assert (blocked.status_code, blocked.json()["code"]) == (409, "wallet_frozen")
    # The owner cannot lift it, nor turn it into an owner's freeze.
    assert (await client.post(f"{P}/wallet/freeze", headers=me)).json()["frozenBy"] == "admin"
    lift = await client.post(f"{P}/wallet/unfreeze", headers=me)
    assert (lift.status_code, lift.json()["code"]) == (403, "wallet_frozen_by_admin")
    # A frozen wallet still receives: a refund lands.
    refund = await client.post(
        f"{P}/admin/holds/{paid.holds[0].id}/refunds", json={}, headers={**admin, **key()}
    )
    assert refund.status_code == 201, refund.text
    assert await balance(runtime, AccountRef.wallet(user, KES)) == kes(5000).amount
    assert (await client.post(f"{P}/admin/wallets/{user}/unfreeze", headers=admin)).status_code == 200
    again = await client.post(
        f"{P}/intents/{(await order(runtime, user, 100)).id}/attempts",
        json={"method": "wallet"},
        headers={**me, **key()},
    )
    assert again.status_code == 201
    # The owner's own freeze is the owner's to lift.
    assert (await client.post(f"{P}/wallet/freeze", headers=me)).json()["frozenBy"] == "owner"
    assert (await client.post(f"{P}/wallet/unfreeze", headers=me)).status_code == 200
    assert await problems(runtime) == []


async def test_non_admins_get_403_on_every_admin_route(client, bearer) -> None:
    someone = bearer(uuid.uuid4())
    an_id = uuid.uuid4()
    routes = [
        ("get", f"{P}/admin/holds"),
        ("post", f"{P}/admin/holds/{an_id}/release"),
        ("post", f"{P}/admin/holds/{an_id}/refunds"),
        ("post", f"{P}/admin/wallets/{an_id}/freeze"),
        ("post", f"{P}/admin/wallets/{an_id}/unfreeze"),
        ("get", f"{P}/admin/withdrawals"),
        ("post", f"{P}/admin/withdrawals/{an_id}/approve"),
        ("post", f"{P}/admin/withdrawals/{an_id}/reject"),
        ("get", f"{P}/admin/attempts"),
        ("post", f"{P}/admin/attempts/{an_id}/resolve"),
    ]
    for method, url in routes:
        kwargs = {"json": {"outcome": "failed"}} if method == "post" else {}
        response = await getattr(client, method)(url, headers={**someone, **key()}, **kwargs)
        assert response.status_code == 403, (url, response.text)
        assert (await getattr(client, method)(url, **kwargs)).status_code == 401, url


async def test_holds_lists_and_transactions_are_the_callers_own(client, runtime, bearer) -> None:
    payer, payee, stranger = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await fund(runtime, payer, 5000)
    intents = [await order(runtime, payer, 1000, payee) for _ in range(3)]
    for intent in intents:
        paid = await client.post(
            f"{P}/intents/{intent.id}/attempts", json={"method": "wallet"}, headers={**bearer(payer), **key()}
        )
        assert paid.status_code == 201
    await api.release_hold(runtime, actor=COMMERCE, hold_id=intents[0].holds[0].id)
    mine = await client.get(f"{P}/holds", params={"role": "payer", "limit": 2}, headers=bearer(payer))
    assert mine.status_code == 200, mine.text
    first = mine.json()
    assert len(first["items"]) == 2
    assert first["nextCursor"]
    rest = (
        await client.get(
            f"{P}/holds", params={"role": "payer", "cursor": first["nextCursor"]}, headers=bearer(payer)
        )
    ).json()
    ids = [h["id"] for h in first["items"] + rest["items"]]
    assert sorted(ids) == sorted(str(i.holds[0].id) for i in intents)
    held = (
        await client.get(f"{P}/holds", params={"role": "payee", "status": "held"}, headers=bearer(payee))
    ).json()
    assert len(held["items"]) == 2
    released = (
        await client.get(f"{P}/holds", params={"role": "payee", "status": "released"}, headers=bearer(payee))
    ).json()
    assert [h["id"] for h in released["items"]] == [str(intents[0].holds[0].id)]
    assert (await client.get(f"{P}/holds", params={"role": "payee"}, headers=bearer(stranger))).json()[
        "items"
    ] == []
    bad = await client.get(f"{P}/holds", params={"role": "everyone"}, headers=bearer(payer))
    assert bad.status_code == 422
    # A statement line leads to its entry; only for the wallet's owner.
    line = (await client.get(f"{P}/wallet/statement", params={"limit": 1}, headers=bearer(payee))).json()[
        "items"
    ][0]
    entry = await client.get(f"{P}/transactions/{line['entryId']}", headers=bearer(payee))
    assert entry.status_code == 200, entry.text
    assert entry.json()["kind"] == "escrow_release"
    assert [x["amount"]["amount"] for x in entry.json()["lines"]] == [kes(950).amount]
    for other in (stranger, payer):  # the payer's wallet is not in that entry
        assert (
            await client.get(f"{P}/transactions/{line['entryId']}", headers=bearer(other))
        ).status_code == 404
    assert (await client.get(f"{P}/transactions/{uuid.uuid4()}", headers=bearer(payee))).status_code == 404


async def test_another_user_gets_404_on_every_id_route(client, runtime, bearer) -> None:
    owner, stranger = uuid.uuid4(), bearer(uuid.uuid4())
    await fund(runtime, owner, 5000)
    intent = await order(runtime, owner, 1000)
    attempt = (
        await client.post(
            f"{P}/intents/{intent.id}/attempts", json={"method": "wallet"}, headers={**bearer(owner), **key()}
        )
    ).json()
    method = (
        await client.post(f"{P}/methods", json={"phone": "+254712345678"}, headers=bearer(owner))
    ).json()
    entry = (await client.get(f"{P}/wallet/statement", params={"limit": 1}, headers=bearer(owner))).json()[
        "items"
    ][0]
    payout = await payouts.request_withdrawal(
        uow=sql_unit_of_work(runtime.database().sessions),
        clock=runtime.clock,
        providers={"mpesa": AcceptingProvider()},
        result_url="http://unused",
        timeout_url="http://unused",
        user_id=owner,
        amount=kes(100),
        phone="0712345678",
        idempotency_key="w1",
        limits=WithdrawalLimits({KES: 1000}, {KES: 10_000_000}, review_unverified=True),
    )
    assert payout.status is PayoutStatus.IN_REVIEW
    hold = intent.holds[0].id
    for method_name, url in [
        ("get", f"{P}/intents/{intent.id}"),
        ("post", f"{P}/intents/{intent.id}/attempts"),
        ("get", f"{P}/intents/{intent.id}/attempts/{attempt['id']}"),
        ("get", f"{P}/holds/{hold}"),
        ("post", f"{P}/holds/{hold}/dispute"),
        ("get", f"{P}/transactions/{entry['entryId']}"),
        ("get", f"{P}/wallet/withdrawals/{payout.id}"),
        ("get", f"{P}/methods/{method['id']}"),
        ("patch", f"{P}/methods/{method['id']}"),
        ("delete", f"{P}/methods/{method['id']}"),
    ]:
        kwargs = (
            {"json": {"method": "wallet"} if "attempts" in url else {}}
            if method_name in ("post", "patch")
            else {}
        )
        response = await getattr(client, method_name)(url, headers={**stranger, **key()}, **kwargs)
        assert response.status_code == 404, (url, response.text)
    # The payer can dispute their own hold.
    assert (await client.post(f"{P}/holds/{hold}/dispute", headers=bearer(owner))).json()[
        "status"
    ] == "disputed"


class AcceptingProvider:
    """A payout provider that takes every request (the review rules are what is tested here)."""

    name = "mpesa"

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def disburse(self, *, reference, msisdn_e164, amount, result_url, timeout_url) -> PayoutAccepted:
        self.sent.append(reference)
        return PayoutAccepted(provider_ref=f"AG_{reference[-8:]}")

    def parse_payout_callback(self, body):  # pragma: no cover - not reached
        raise NotImplementedError


async def test_withdrawal_daily_limits_and_counts(runtime) -> None:
    user = uuid.uuid4()
    await fund(runtime, user, 100_000)
    provider = AcceptingProvider()
    limits = WithdrawalLimits({KES: 1000}, {KES: 5_000_000}, daily_maximum={KES: 6_000_000}, per_day=3)

    async def withdraw(major: int, k: str):
        return await payouts.request_withdrawal(
            uow=sql_unit_of_work(runtime.database().sessions),
            clock=runtime.clock,
            providers={"mpesa": provider},
            result_url="http://unused",
            timeout_url="http://unused",
            user_id=user,
            amount=kes(major),
            phone="0712345678",
            idempotency_key=k,
            limits=limits,
        )

    await withdraw(30_000, "a")
    with pytest.raises(ValidationFailed) as total:  # 30,000 + 40,000 > 60,000 a day
        await withdraw(40_000, "b")
    assert total.value.code == "withdrawal_limit"
    # Concurrent requests cannot slip past the count together.
    results = await asyncio.gather(*(withdraw(1_000, f"c{i}") for i in range(5)), return_exceptions=True)
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 2
    assert all(
        isinstance(r, ValidationFailed) and r.code == "withdrawal_limit"
        for r in results
        if isinstance(r, BaseException)
    )
    assert len(provider.sent) == 3
    # Refused requests reserved nothing.
    assert await balance(runtime, AccountRef.wallet(user, KES)) == kes(100_000 - 32_000).amount
    assert await problems(runtime) == []


async def test_withdrawal_review_queue_reject_returns_funds_and_approve_pays_out(
    live, runtime, bearer
) -> None:
    user, admin = uuid.uuid4(), bearer(uuid.uuid4(), roles=("admin",))
    await fund(runtime, user, 200_000)
    big = {"amount": {"amount": kes(60_000).amount, "currency": KES}, "phone": "0712345678"}
    first = await live.http.post(f"{P}/wallet/withdrawals", json=big, headers={**bearer(user), **key()})
    second = await live.http.post(f"{P}/wallet/withdrawals", json=big, headers={**bearer(user), **key()})
    assert (first.status_code, first.json()["status"]) == (201, "in_review"), first.text
    assert second.json()["status"] == "in_review"
    # Reserved at request, nothing sent yet.
    assert await balance(runtime, AccountRef.wallet(user, KES)) == kes(80_000).amount
    assert not [r for r in live.daraja.requests if r[0] == "b2c"]
    [note, _] = await messages(runtime, "payments.payout_in_review.v1")
    assert note["reason"] == "large_amount"
    queue = (await live.http.get(f"{P}/admin/withdrawals", headers=admin)).json()["items"]
    assert [w["id"] for w in queue] == [first.json()["id"], second.json()["id"]]
    rejected = await live.http.post(
        f"{P}/admin/withdrawals/{first.json()['id']}/reject", headers={**admin, **key()}
    )
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["failureReason"]) == ("failed", "rejected")
    assert await balance(runtime, AccountRef.wallet(user, KES)) == kes(140_000).amount
    approved = await live.http.post(
        f"{P}/admin/withdrawals/{second.json()['id']}/approve", headers={**admin, **key()}
    )
    assert approved.status_code == 200, approved.text
    await live.daraja.settle()
    got = (await live.http.get(f"{P}/wallet/withdrawals/{second.json()['id']}", headers=bearer(user))).json()
    assert got["status"] == "succeeded"
    assert len([r for r in live.daraja.requests if r[0] == "b2c"]) == 1
    again = await live.http.post(
        f"{P}/admin/withdrawals/{second.json()['id']}/approve", headers={**admin, **key()}
    )
    assert (again.status_code, again.json()["code"]) == (409, "withdrawal_not_in_review")
    assert (await live.http.get(f"{P}/admin/withdrawals", headers=admin)).json()["items"] == []
    assert await balance(runtime, AccountRef.payouts_in_flight(KES)) == 0
    assert await problems(runtime) == []


async def test_an_unverified_number_waits_for_review(runtime) -> None:
    user = uuid.uuid4()
    await fund(runtime, user, 1000)
    limits = WithdrawalLimits({KES: 1000}, {KES: 10_000_000}, review_unverified=True)
    uow = sql_unit_of_work(runtime.database().sessions)
    provider = AcceptingProvider()
    args = dict(
        uow=uow,
        clock=runtime.clock,
        providers={"mpesa": provider},
        result_url="x",
        timeout_url="x",
        user_id=user,
        amount=kes(100),
        limits=limits,
    )
    waiting = await payouts.request_withdrawal(**args, phone="0712345678", idempotency_key="u1")
    assert waiting.status is PayoutStatus.IN_REVIEW
    # A number the user has paid from is verified: straight to the provider.
    intent = await api.create_intent(
        runtime,
        actor=api.Actor.user(user),
        payer_id=user,
        amount=kes(10),
        purpose="wallet_topup",
        reference="t",
        splits=[],
        idempotency_key="t",
    )
    async with uow() as tx:
        await tx.store.add_attempt(
            Attempt(
                id=new_id(),
                intent_id=intent.id,
                payer_id=user,
                method="mobile_money",
                provider="mpesa",
                phone="+254722345678",
                amount=kes(10),
                status=AttemptStatus.SUCCEEDED,
                created_at=runtime.clock.now(),
            )
        )
    sent = await payouts.request_withdrawal(**args, phone="0722345678", idempotency_key="u2")
    assert sent.status is PayoutStatus.PENDING
    assert provider.sent == [str(sent.id)]


async def test_the_ambiguous_queue_is_resolved_by_an_admin_once(client, runtime, bearer) -> None:
    payer, admin = uuid.uuid4(), bearer(uuid.uuid4(), roles=("admin",))
    intent = await order(runtime, payer, 1500)
    attempt = Attempt(
        id=new_id(),
        intent_id=intent.id,
        payer_id=payer,
        method="mobile_money",
        provider="mpesa",
        phone="+254712345678",
        amount=kes(1500),
        status=AttemptStatus.AMBIGUOUS,
        created_at=runtime.clock.now(),
    )
    async with sql_unit_of_work(runtime.database().sessions)() as tx:
        await tx.store.add_attempt(attempt)
    queue = (await client.get(f"{P}/admin/attempts", headers=admin)).json()["items"]
    assert [a["attempt"]["id"] for a in queue] == [str(attempt.id)]
    bad = await client.post(
        f"{P}/admin/attempts/{attempt.id}/resolve", json={"outcome": "maybe"}, headers={**admin, **key()}
    )
    assert bad.status_code == 422
    done = await client.post(
        f"{P}/admin/attempts/{attempt.id}/resolve",
        json={"outcome": "succeeded", "receipt": "QK1"},
        headers={**admin, **key()},
    )
    assert done.status_code == 200, done.text
    assert done.json()["attempt"]["status"] == "succeeded"
    got = await api.get_intent(runtime, actor=COMMERCE, intent_id=intent.id)
    assert got.status == "succeeded"
    assert await balance(runtime, AccountRef.escrow(got.holds[0].id, KES)) == kes(1500).amount
    twice = await client.post(
        f"{P}/admin/attempts/{attempt.id}/resolve", json={"outcome": "succeeded"}, headers={**admin, **key()}
    )
    assert (twice.status_code, twice.json()["code"]) == (409, "attempt_not_ambiguous")
    assert (await client.get(f"{P}/admin/attempts", headers=admin)).json()["items"] == []
    assert await problems(runtime) == []


async def test_holds_unreleased_after_max_hold_days_wait_in_the_admin_queue(client, runtime, bearer) -> None:
    payer, admin = uuid.uuid4(), bearer(uuid.uuid4(), roles=("admin",))
    await fund(runtime, payer, 5000)
    old, fresh = await order(runtime, payer, 1000), await order(runtime, payer, 1000)
    for intent in (old, fresh):
        paid = await client.post(
            f"{P}/intents/{intent.id}/attempts", json={"method": "wallet"}, headers={**bearer(payer), **key()}
        )
        assert paid.status_code == 201
    async with runtime.database().sessions() as session, session.begin():
        await session.execute(
            sa.text(
                "UPDATE payments.holds SET created_at = created_at - interval '31 days' WHERE intent_id = :i"
            ),
            {"i": old.id},
        )
    queue = (await client.get(f"{P}/admin/holds", headers=admin)).json()
    assert [h["id"] for h in queue["items"]] == [str(old.holds[0].id)]
    assert queue["items"][0]["status"] == "held"  # listed, never released on its own
    assert await balance(runtime, AccountRef.escrow(old.holds[0].id, KES)) == kes(1000).amount


async def test_a_young_or_unknown_account_waits_for_review(runtime) -> None:
    """``young_account``: registered less than ``young_account_days`` ago, or not known to
    payments yet (auth's ``user_registered`` not consumed): in review, money reserved."""
    limits = WithdrawalLimits({KES: 1000}, {KES: 10_000_000}, young_account_days=7)
    uow = sql_unit_of_work(runtime.database().sessions)
    provider = AcceptingProvider()
    now = runtime.clock.now()

    async def withdraw(user: uuid.UUID, key: str):
        return await payouts.request_withdrawal(
            uow=uow,
            clock=runtime.clock,
            providers={"mpesa": provider},
            result_url="x",
            timeout_url="x",
            user_id=user,
            amount=kes(100),
            phone="0712345678",
            idempotency_key=key,
            limits=limits,
        )

    unknown, young, old = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for user in (unknown, young, old):
        await fund(runtime, user, 1000)
    await payouts.record_registration(uow=uow, user_id=young, registered_at=now - timedelta(days=6, hours=23))
    await payouts.record_registration(uow=uow, user_id=old, registered_at=now - timedelta(days=7, minutes=1))
    # The first registration stands: a later one does not make the account young again.
    await payouts.record_registration(uow=uow, user_id=old, registered_at=now)
    waiting = [await withdraw(unknown, "y1"), await withdraw(young, "y2")]
    assert [p.status for p in waiting] == [PayoutStatus.IN_REVIEW] * 2
    assert await balance(runtime, AccountRef.payouts_in_flight(KES)) == kes(200).amount
    sent = await withdraw(old, "y3")
    assert sent.status is PayoutStatus.PENDING
    assert provider.sent == [str(sent.id)]
    async with runtime.database().sessions() as session:
        reasons = (
            await session.execute(
                sa.text("SELECT payload FROM payments.outbox WHERE tag = 'payments.payout_in_review.v1'")
            )
        ).scalars()
        assert sorted(msgspec.json.decode(r)["reason"] for r in reasons) == ["young_account"] * 2
    assert await problems(runtime) == []
