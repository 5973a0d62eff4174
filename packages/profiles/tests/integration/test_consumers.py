"""Auth lifecycle messages through the real broker, and the relay publishing ours."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import aio_pika
import msgspec
import sqlalchemy as sa

from nexgate.contracts.auth import (
    IdentifierChanged,
    UserDeactivated,
    UserDeleted,
    UserReactivated,
    UserRegistered,
)
from nexgate.contracts.base import Contract
from nexgate.contracts.profiles import ProfileDeleted, ProfileUpdated
from nexgate.kernel.messaging.relay import broker_publisher
from nexgate.profiles.adapters.sql.models import profiles, tables

P = "/api/v1/profiles"


async def test_account_lifecycle_from_auth_messages_and_redelivery_is_noop(
    client, bearer, user, runtime, worker, messages, counters, wait_until
) -> None:
    await worker.broker.start()
    await worker.start_background()
    publish = broker_publisher(worker.broker, runtime.naming)

    async def send(message: Contract) -> None:
        await publish(
            context="auth", tag=message.tag(), message_id=str(message.id), body=msgspec.json.encode(message)
        )

    async def row(user_id: uuid.UUID) -> sa.Row | None:
        async with runtime.database().sessions() as session:
            return (await session.execute(sa.select(profiles).where(profiles.c.user_id == user_id))).first()

    async def inbox_rows() -> int:
        async with runtime.database().sessions() as session:
            return await session.scalar(sa.select(sa.func.count()).select_from(tables.inbox))

    user_id = uuid.uuid4()
    registered = UserRegistered(
        user_id=user_id, display_name="Rehema Mushi", locale="sw", email_verified=False, phone_verified=True,
        registered_via="phone", registered_at=datetime(2026, 3, 1, tzinfo=UTC), requested_username="Rehema",
    )  # fmt: skip
    await send(registered)
    await send(registered)  # redelivered: a no-op

    async def created() -> bool:
        return await row(user_id) is not None and await inbox_rows() == 1

    await wait_until(created)
    first = await row(user_id)
    assert first is not None
    assert (first.username, first.display_name, first.phone_verified, first.version) == (
        "rehema",
        "Rehema Mushi",
        True,
        1,
    )
    headers = bearer(user_id)
    assert (await client.get(f"{P}/me", headers=headers)).json()["joinedAt"].startswith("2026-03-01")

    await send(
        IdentifierChanged(
            user_id=user_id,
            kind="email",
            new_value="r@example.com",
            previous_value_masked=None,
            verified=True,
        )
    )

    async def email_verified() -> bool:
        found = await row(user_id)
        return found is not None and found.email_verified

    await wait_until(email_verified)

    follower, f = await user()
    await client.post(f"{P}/{user_id}/follow", headers=f)
    await send(UserDeactivated(user_id=user_id))

    async def deactivated() -> bool:
        found = await row(user_id)
        return found is not None and found.deactivated

    await wait_until(deactivated)
    assert (await client.get(f"{P}/{user_id}", headers=f)).status_code == 404
    assert (await client.get(f"{P}/{follower}/following", headers=f)).json()["items"] == []
    await send(UserReactivated(user_id=user_id))

    async def reactivated() -> bool:
        found = await row(user_id)
        return found is not None and not found.deactivated

    await wait_until(reactivated)
    assert (await client.get(f"{P}/{user_id}", headers=f)).status_code == 200
    snapshots = [m for m in await messages(ProfileUpdated.tag()) if m.user_id == user_id]
    assert [m.deactivated for m in snapshots][-2:] == [True, False]
    assert [m.version for m in snapshots] == sorted({m.version for m in snapshots})


async def test_account_deleted_erases_profile_and_publishes_profile_deleted(
    client, user, runtime, worker, messages, counters, wait_until
) -> None:
    await worker.broker.start()
    await worker.start_background()
    publish = broker_publisher(worker.broker, runtime.naming)
    gone, g = await user()
    friend, f = await user()
    await client.post(f"{P}/{friend}/follow", headers=g)
    await client.post(f"{P}/{gone}/follow", headers=f)
    await client.post(f"{P}/{friend}/mute", json={}, headers=g)
    message = UserDeleted(user_id=gone)
    for _ in range(2):
        await publish(
            context="auth", tag=message.tag(), message_id=str(message.id), body=msgspec.json.encode(message)
        )

    async def erased() -> bool:
        return len(await messages(ProfileDeleted.tag())) == 1

    await wait_until(erased)
    rows = await counters()
    assert [r[0] for r in rows] == [friend]
    assert rows[0][1:] == (0, 0, 0, 0)
    assert (await client.get(f"{P}/{gone}", headers=f)).status_code == 404


async def test_contracts_published_for_every_relation_change(
    client, user, settings, runtime, worker, wait_until, messages
) -> None:
    """Every relation change leaves its message in the outbox, and the relay delivers each one
    to a consumer bound on the real broker, as its own message."""
    connection = await aio_pika.connect(settings.rabbitmq_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            runtime.naming.exchange("profiles"), aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key="profiles.#")

        a, ha = await user()
        b, hb = await user(private=True)
        await client.post(f"{P}/{b}/follow", headers=ha)  # follow_requested
        await client.post(f"{P}/me/follow-requests/{a}/approve", headers=hb)  # follow_created
        await client.delete(f"{P}/me/followers/{a}", headers=hb)  # follow_removed
        await client.post(f"{P}/{b}/follow", headers=ha)
        await client.post(f"{P}/me/follow-requests/{a}/reject", headers=hb)  # follow_request_withdrawn
        await client.post(f"{P}/{a}/mute", json={}, headers=hb)  # mute_created
        await client.delete(f"{P}/{a}/mute", headers=hb)  # mute_removed
        await client.post(f"{P}/{a}/block", headers=hb)  # block_created
        await client.delete(f"{P}/{a}/block", headers=hb)  # block_removed
        await client.patch(f"{P}/me/settings/privacy", json={"whoCanMessage": "nobody"}, headers=hb)
        written = await messages()
        facts = (
            "profile_created profile_updated follow_requested follow_created follow_removed"
            " follow_request_withdrawn mute_created mute_removed block_created block_removed"
            " privacy_settings_changed"
        )
        expected = {f"profiles.{fact}.v1" for fact in facts.split()}
        assert {m.tag() for m in written} == expected
        await worker.broker.start()
        await worker.start_background()

        received: dict[str, str] = {}

        async def all_delivered() -> bool:
            while (message := await queue.get(no_ack=True, fail=False)) is not None:
                assert message.message_id not in received, "delivered twice"
                received[str(message.message_id)] = message.routing_key or ""
            return len(received) >= len(written)

        await wait_until(all_delivered)
        assert received == {str(m.id): m.tag() for m in written}
    finally:
        await connection.close()
