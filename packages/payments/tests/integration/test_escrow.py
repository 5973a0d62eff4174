"""Escrow on the real PostgreSQL: release less the fee, full and partial refunds, who may
instruct, idempotency, and a release racing a refund of the same hold."""

from __future__ import annotations

import asyncio
import uuid

import msgspec
import pytest
import sqlalchemy as sa

from nexgate.kernel.errors import Conflict, NotFound, ValidationFailed
from nexgate.kernel.ids import new_id
from nexgate.kernel.money import Money
from nexgate.payments import api
from nexgate.payments.adapters.sql.ledger import SqlLedger, verify_ledger
from nexgate.payments.adapters.sql.repository import sql_unit_of_work
from nexgate.payments.application import collection
from nexgate.payments.domain.intents import Attempt, AttemptStatus, HoldStatus
from nexgate.payments.domain.ledger import AccountRef

pytestmark = pytest.mark.integration

KES = "KES"
COMMERCE = api.Actor.system("commerce")


def kes(major: int) -> Money:
    return Money.of(major, KES)


async def paid_intent(runtime, *, payer=None, amounts=(1500,), fee_bps: int | None = None) -> api.Intent:
    """An intent created through the facade and paid by a confirmed M-Pesa collection
    (the real `_succeed` path), so its holds are `held`."""
    payer = payer or uuid.uuid4()
    total = kes(sum(amounts))
    intent = await api.create_intent(
        runtime,
        actor=COMMERCE,
        payer_id=payer,
        amount=total,
        purpose="order",
        reference=f"order-{uuid.uuid4().hex[:8]}",
        splits=[api.Split(uuid.uuid4(), kes(a), f"line-{i}") for i, a in enumerate(amounts)],
        idempotency_key=str(uuid.uuid4()),
    )
    uow = sql_unit_of_work(runtime.database().sessions)
    attempt = Attempt(
        id=new_id(),
        intent_id=intent.id,
        payer_id=payer,
        method="mobile_money",
        provider="mpesa",
        phone="+254712345678",
        amount=total,
        status=AttemptStatus.PENDING,
        created_at=runtime.clock.now(),
    )
    async with uow() as tx:
        if fee_bps is not None:
            await tx.session.execute(
                sa.text("UPDATE payments.holds SET fee_bps = :bps WHERE intent_id = :id"),
                {"bps": fee_bps, "id": intent.id},
            )
        await tx.store.add_attempt(attempt)
        attempt.provider_ref = f"ws_CO_{attempt.id.hex}"
        await tx.store.update_attempt(attempt, runtime.clock.now())
    assert await collection._succeed(uow, runtime.clock, attempt.id, "RCPT")
    got = await api.get_intent(runtime, actor=COMMERCE, intent_id=intent.id)
    assert all(h.status is HoldStatus.HELD for h in got.holds)
    return got


async def balance(runtime, ref) -> int:
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


async def test_release_pays_the_payee_less_the_fee_rounded_half_up_once(runtime) -> None:
    # 1,010 at 5 % is a fee of 50.50: rounded half-up to 51 whole shillings.
    intent = await paid_intent(runtime, amounts=(1010,))
    hold = intent.holds[0]
    released = await api.release_hold(runtime, actor=COMMERCE, hold_id=hold.id)
    assert released.status is HoldStatus.RELEASED
    assert released.held.amount == 0
    assert await balance(runtime, AccountRef.wallet(hold.payee_id, KES)) == kes(959).amount
    assert await balance(runtime, AccountRef.platform_revenue(KES)) == kes(51).amount
    assert await balance(runtime, AccountRef.escrow(hold.id, KES)) == 0
    # A second instruction (a redelivered message) is a no-op.
    again = await api.release_hold(runtime, actor=COMMERCE, hold_id=hold.id)
    assert again.status is HoldStatus.RELEASED
    assert await balance(runtime, AccountRef.wallet(hold.payee_id, KES)) == kes(959).amount
    [message] = await messages(runtime, "payments.escrow_released.v1")
    assert message["holdId"] == str(hold.id)
    assert message["intentId"] == str(intent.id)
    assert message["payeeId"] == str(hold.payee_id)
    assert (message["gross"]["amount"], message["fee"]["amount"], message["net"]["amount"]) == (
        101_000,
        5_100,
        95_900,
    )
    assert await problems(runtime) == []


async def test_the_fee_is_the_one_snapshotted_on_the_hold(runtime) -> None:
    intent = await paid_intent(runtime, amounts=(2000,), fee_bps=1000)
    hold = intent.holds[0]
    await api.release_hold(runtime, actor=COMMERCE, hold_id=hold.id)
    assert await balance(runtime, AccountRef.platform_revenue(KES)) == kes(200).amount
    assert await balance(runtime, AccountRef.wallet(hold.payee_id, KES)) == kes(1800).amount


async def test_a_zero_fee_release_posts_only_the_net(runtime) -> None:
    intent = await paid_intent(runtime, amounts=(700,), fee_bps=0)
    hold = intent.holds[0]
    await api.release_hold(runtime, actor=COMMERCE, hold_id=hold.id)
    assert await balance(runtime, AccountRef.wallet(hold.payee_id, KES)) == kes(700).amount
    assert await balance(runtime, AccountRef.platform_revenue(KES)) == 0
    assert await problems(runtime) == []


async def test_multi_payee_intent_releases_each_hold_to_its_own_payee(runtime) -> None:
    intent = await paid_intent(runtime, amounts=(1000, 3000, 600))
    for hold in intent.holds:
        await api.release_hold(runtime, actor=COMMERCE, hold_id=hold.id)
    nets = [await balance(runtime, AccountRef.wallet(h.payee_id, KES)) for h in intent.holds]
    assert nets == [kes(950).amount, kes(2850).amount, kes(570).amount]
    assert await balance(runtime, AccountRef.platform_revenue(KES)) == kes(50 + 150 + 30).amount
    assert len(await messages(runtime, "payments.escrow_released.v1")) == 3
    assert await problems(runtime) == []


async def test_partial_then_full_refund_closes_the_hold(runtime) -> None:
    intent = await paid_intent(runtime, amounts=(1500,))
    hold = intent.holds[0]
    payer_wallet = AccountRef.wallet(intent.payer_id, KES)
    first = await api.refund(runtime, actor=COMMERCE, hold_id=hold.id, amount=kes(400), idempotency_key="r1")
    assert (first.amount, first.remaining) == (kes(400), kes(1100))
    assert await balance(runtime, payer_wallet) == kes(400).amount
    with pytest.raises(Conflict) as exceeds:
        await api.refund(runtime, actor=COMMERCE, hold_id=hold.id, amount=kes(1101), idempotency_key="r2")
    assert exceeds.value.code == "refund_exceeds_held"
    rest = await api.refund(runtime, actor=COMMERCE, hold_id=hold.id, idempotency_key="r3")
    assert (rest.amount, rest.remaining) == (kes(1100), kes(0))
    assert await balance(runtime, payer_wallet) == kes(1500).amount
    got = await api.get_intent(runtime, actor=COMMERCE, intent_id=intent.id)
    assert (got.holds[0].status, got.holds[0].held) == (HoldStatus.REFUNDED, kes(0))
    with pytest.raises(Conflict) as nothing_left:
        await api.refund(runtime, actor=COMMERCE, hold_id=hold.id, amount=kes(1), idempotency_key="r4")
    assert nothing_left.value.code == "hold_not_held"
    with pytest.raises(Conflict) as no_release:
        await api.release_hold(runtime, actor=COMMERCE, hold_id=hold.id)
    assert no_release.value.code == "hold_not_held"
    sent = await messages(runtime, "payments.refund_completed.v1")
    assert [(m["amount"]["amount"], m["remainingHeld"]["amount"]) for m in sent] == [
        (40_000, 110_000),
        (110_000, 0),
    ]
    assert all(m["payerId"] == str(intent.payer_id) for m in sent)
    assert await problems(runtime) == []


async def test_a_refund_replayed_with_its_key_moves_money_once(runtime) -> None:
    intent = await paid_intent(runtime, amounts=(1500,))
    hold = intent.holds[0]
    results = await asyncio.gather(
        *(
            api.refund(runtime, actor=COMMERCE, hold_id=hold.id, amount=kes(300), idempotency_key="same")
            for _ in range(8)
        )
    )
    assert len({r.id for r in results}) == 1
    assert await balance(runtime, AccountRef.wallet(intent.payer_id, KES)) == kes(300).amount
    with pytest.raises(ValidationFailed) as reused:
        await api.refund(runtime, actor=COMMERCE, hold_id=hold.id, amount=kes(200), idempotency_key="same")
    assert reused.value.code == "idempotency_key_reused"
    assert len(await messages(runtime, "payments.refund_completed.v1")) == 1
    assert await problems(runtime) == []


async def test_refund_after_release_is_409_hold_already_released(runtime) -> None:
    intent = await paid_intent(runtime, amounts=(1500,))
    hold = intent.holds[0]
    await api.release_hold(runtime, actor=COMMERCE, hold_id=hold.id)
    with pytest.raises(Conflict) as refused:
        await api.refund(runtime, actor=COMMERCE, hold_id=hold.id, idempotency_key="late")
    assert refused.value.code == "hold_already_released"
    assert await balance(runtime, AccountRef.wallet(intent.payer_id, KES)) == 0


async def test_release_after_partial_refund_takes_the_fee_on_what_is_still_held(runtime) -> None:
    intent = await paid_intent(runtime, amounts=(1000,))
    hold = intent.holds[0]
    await api.refund(runtime, actor=COMMERCE, hold_id=hold.id, amount=kes(400), idempotency_key="p")
    await api.release_hold(runtime, actor=COMMERCE, hold_id=hold.id)
    assert await balance(runtime, AccountRef.platform_revenue(KES)) == kes(30).amount
    assert await balance(runtime, AccountRef.wallet(hold.payee_id, KES)) == kes(570).amount
    assert await problems(runtime) == []


async def test_only_the_owning_context_or_an_admin_may_instruct(runtime) -> None:
    intent = await paid_intent(runtime, amounts=(1500,))
    hold = intent.holds[0]
    for stranger in (
        api.Actor.system("events"),
        api.Actor.user(hold.payee_id),
        api.Actor.user(intent.payer_id),
    ):
        with pytest.raises(NotFound):
            await api.release_hold(runtime, actor=stranger, hold_id=hold.id)
        with pytest.raises(NotFound):
            await api.refund(runtime, actor=stranger, hold_id=hold.id, idempotency_key="x")
    with pytest.raises(NotFound):
        await api.release_hold(runtime, actor=COMMERCE, hold_id=uuid.uuid4())
    assert await balance(runtime, AccountRef.escrow(hold.id, KES)) == kes(1500).amount
    admin = api.Actor.user(uuid.uuid4(), admin=True)
    await api.release_hold(runtime, actor=admin, hold_id=hold.id)
    assert await balance(runtime, AccountRef.escrow(hold.id, KES)) == 0


async def test_an_unpaid_hold_cannot_be_released_and_publishes_nothing(runtime) -> None:
    intent = await api.create_intent(
        runtime,
        actor=COMMERCE,
        payer_id=uuid.uuid4(),
        amount=kes(500),
        purpose="order",
        reference="unpaid",
        splits=[api.Split(uuid.uuid4(), kes(500), "line")],
        idempotency_key="unpaid",
    )
    with pytest.raises(Conflict) as refused:
        await api.release_hold(runtime, actor=COMMERCE, hold_id=intent.holds[0].id)
    assert refused.value.code == "hold_not_held"
    with pytest.raises(Conflict):
        await api.refund(runtime, actor=COMMERCE, hold_id=intent.holds[0].id, idempotency_key="u")
    assert await messages(runtime, "payments.escrow_released.v1") == []
    assert await messages(runtime, "payments.refund_completed.v1") == []


async def test_concurrent_release_and_refund_of_one_hold_exactly_one_wins(runtime) -> None:
    intents = [await paid_intent(runtime, amounts=(1000,)) for _ in range(6)]

    async def attempt(coro) -> str:
        try:
            await coro
            return "ok"
        except Conflict as exc:
            return exc.code

    for i, intent in enumerate(intents):
        hold = intent.holds[0]
        calls = [api.release_hold(runtime, actor=COMMERCE, hold_id=hold.id) for _ in range(3)]
        calls += [
            api.refund(runtime, actor=COMMERCE, hold_id=hold.id, idempotency_key=f"k{i}-{j}")
            for j in range(3)
        ]
        outcomes = await asyncio.gather(*(attempt(c) for c in calls))
        releases, refunds = outcomes[:3], outcomes[3:]
        payee = await balance(runtime, AccountRef.wallet(hold.payee_id, KES))
        payer = await balance(runtime, AccountRef.wallet(intent.payer_id, KES))
        if payee:  # the release won: every release call is fine (no-op), every refund refused
            assert releases == ["ok"] * 3
            assert refunds == ["hold_already_released"] * 3
            assert (payee, payer) == (kes(950).amount, 0)
        else:  # a full refund won: exactly one refund, every other call refused
            assert sorted(refunds) == ["hold_not_held", "hold_not_held", "ok"]
            assert releases == ["hold_not_held"] * 3
            assert payer == kes(1000).amount
        assert await balance(runtime, AccountRef.escrow(hold.id, KES)) == 0
    assert await problems(runtime) == []


HOLDS = "/api/v1/payments/holds"
ADMIN_HOLDS = "/api/v1/payments/admin/holds"


async def test_holds_over_http_payer_payee_admin_see_others_404(client, runtime, bearer) -> None:
    intent = await paid_intent(runtime, amounts=(1500,))
    hold = intent.holds[0]
    for who, roles in ((intent.payer_id, ()), (hold.payee_id, ()), (uuid.uuid4(), ("admin",))):
        got = await client.get(f"{HOLDS}/{hold.id}", headers=bearer(who, roles=roles))
        assert got.status_code == 200, got.text
        assert (got.json()["status"], got.json()["held"]["amount"], got.json()["feeBps"]) == (
            "held",
            150_000,
            500,
        )
    other = await client.get(f"{HOLDS}/{hold.id}", headers=bearer(uuid.uuid4()))
    assert (other.status_code, other.json()["code"]) == (404, "hold_not_found")
    assert (await client.get(f"{HOLDS}/{hold.id}")).status_code == 401


async def test_admin_releases_and_refunds_over_http_others_403(client, runtime, bearer) -> None:
    intent = await paid_intent(runtime, amounts=(1000, 1000))
    first, second = intent.holds
    admin = bearer(uuid.uuid4(), roles=("admin",))
    # The payee itself is not an admin: 403, and no money moves.
    for headers in (bearer(first.payee_id), bearer(intent.payer_id)):
        denied = await client.post(
            f"{ADMIN_HOLDS}/{first.id}/release", headers={**headers, "Idempotency-Key": "a"}
        )
        assert (denied.status_code, denied.json()["code"]) == (403, "missing_role")
    assert (await client.post(f"{ADMIN_HOLDS}/{first.id}/release")).status_code == 401
    no_key = await client.post(f"{ADMIN_HOLDS}/{first.id}/release", headers=admin)
    assert (no_key.status_code, no_key.json()["code"]) == (422, "idempotency_key_required")

    released = await client.post(
        f"{ADMIN_HOLDS}/{first.id}/release", headers={**admin, "Idempotency-Key": "rel-1"}
    )
    assert released.status_code == 200, released.text
    assert (released.json()["status"], released.json()["held"]["amount"]) == ("released", 0)
    assert await balance(runtime, AccountRef.wallet(first.payee_id, KES)) == kes(950).amount

    body = {"amount": {"amount": 25_000, "currency": KES}}
    refund = await client.post(
        f"{ADMIN_HOLDS}/{second.id}/refunds", json=body, headers={**admin, "Idempotency-Key": "ref-1"}
    )
    assert refund.status_code == 201, refund.text
    assert (refund.json()["amount"]["amount"], refund.json()["remainingHeld"]["amount"]) == (25_000, 75_000)
    replay = await client.post(
        f"{ADMIN_HOLDS}/{second.id}/refunds", json=body, headers={**admin, "Idempotency-Key": "ref-1"}
    )
    assert replay.json()["id"] == refund.json()["id"]
    assert replay.headers.get("idempotent-replayed") == "true"
    too_much = await client.post(
        f"{ADMIN_HOLDS}/{second.id}/refunds",
        json={"amount": {"amount": 75_100, "currency": KES}},
        headers={**admin, "Idempotency-Key": "ref-2"},
    )
    assert (too_much.status_code, too_much.json()["code"]) == (409, "refund_exceeds_held")
    after_release = await client.post(
        f"{ADMIN_HOLDS}/{first.id}/refunds", json={}, headers={**admin, "Idempotency-Key": "ref-3"}
    )
    assert (after_release.status_code, after_release.json()["code"]) == (409, "hold_already_released")
    for bad in (
        {"amount": {"amount": 10.5, "currency": KES}},
        {"amount": {"amount": 100, "currency": "XYZ"}},
        {"held": 1},
    ):
        rejected = await client.post(
            f"{ADMIN_HOLDS}/{second.id}/refunds",
            json=bad,
            headers={**admin, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert rejected.status_code == 422, (bad, rejected.text)
    fractional = await client.post(
        f"{ADMIN_HOLDS}/{second.id}/refunds",
        json={"amount": {"amount": 150, "currency": KES}},
        headers={**admin, "Idempotency-Key": "ref-frac"},
    )
    assert (fractional.status_code, fractional.json()["code"]) == (422, "fractional_amount")
    assert await balance(runtime, AccountRef.wallet(intent.payer_id, KES)) == 25_000
    missing = await client.post(
        f"{ADMIN_HOLDS}/{uuid.uuid4()}/release", headers={**admin, "Idempotency-Key": "m"}
    )
    assert missing.status_code == 404
    assert await problems(runtime) == []
