"""Concurrency on the real PostgreSQL: each call is its own transaction, run with asyncio.gather."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import sqlalchemy as sa

from nexgate.chat.adapters.sql.models import conversations, members, messages, tables, user_events
from nexgate.chat.adapters.wiring import ChatWiring
from nexgate.chat.application import chat as use_cases
from nexgate.kernel.runtime import Runtime

T = TypeVar("T")


def in_transaction(runtime: Runtime) -> Callable[[Callable[..., Awaitable[T]]], Awaitable[T]]:
    async def run(work: Callable[..., Awaitable[T]]) -> T:
        async with runtime.database().sessions() as session, session.begin():
            return await work(session)

    return run  # type: ignore[return-value]


async def open_accepted(runtime: Runtime, a: uuid.UUID, b: uuid.UUID) -> uuid.UUID:
    tx = in_transaction(runtime)

    chat = ChatWiring(runtime)

    async def work(session):
        unit = chat.unit(session)
        view, _ = await use_cases.open_direct(
            actor=a, participant_ids=[b], store=unit.store, policy=unit.policy, limiter=chat.limiter,
            clock=chat.clock,
        )  # fmt: skip
        await use_cases.respond_to_request(
            actor=b, conversation_id=view.conversation.id, accept=True, store=unit.store,
            outbox=unit.outbox, events=unit.events,
        )  # fmt: skip
        return view.conversation.id

    return await tx(work)


def sender(runtime: Runtime):
    tx = in_transaction(runtime)
    chat = ChatWiring(runtime)

    async def send(actor: uuid.UUID, conversation_id: uuid.UUID, text: str, cmid: str | None = None):
        async def work(session):
            unit = chat.unit(session)
            return await use_cases.send_message(
                actor=actor, conversation_id=conversation_id, client_message_id=cmid or uuid.uuid4().hex,
                text=text, media_file_ids=[], reply_to_message_id=None, store=unit.store,
                policy=unit.policy, media=chat.media, outbox=unit.outbox, events=unit.events,
                presence=chat.presence, clock=chat.clock,
            )  # fmt: skip

        return await tx(work)

    return send


async def test_parallel_sends_get_gap_free_ordered_seq(runtime) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    conversation_id = await open_accepted(runtime, alice, bob)
    send = sender(runtime)
    results = await asyncio.gather(
        *[send(alice if i % 2 else bob, conversation_id, f"m{i}") for i in range(50)]
    )
    assert sorted(r.message.seq for r in results) == list(range(1, 51))
    async with runtime.database().sessions() as session:
        stored = (
            await session.execute(
                sa.select(messages.c.seq, messages.c.id)
                .where(messages.c.conversation_id == conversation_id)
                .order_by(messages.c.seq)
            )
        ).all()
        last_seq = await session.scalar(
            sa.select(conversations.c.last_seq).where(conversations.c.id == conversation_id)
        )
        outbox = await session.scalar(
            sa.select(sa.func.count())
            .select_from(tables.outbox)
            .where(tables.outbox.c.tag == "chat.message_sent.v1")
        )
    assert [row.seq for row in stored] == list(range(1, 51))
    assert (last_seq, outbox) == (50, 50)


async def test_same_client_message_id_sent_concurrently_creates_one_message(runtime) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    conversation_id = await open_accepted(runtime, alice, bob)
    send = sender(runtime)
    results = await asyncio.gather(
        *[send(alice, conversation_id, "only once", cmid="retry-me") for _ in range(10)]
    )
    assert sum(r.created for r in results) == 1
    assert {r.message.id for r in results} == {results[0].message.id}
    async with runtime.database().sessions() as session:
        count = await session.scalar(
            sa.select(sa.func.count())
            .select_from(messages)
            .where(messages.c.conversation_id == conversation_id)
        )
        unread = await session.scalar(
            sa.select(members.c.unread_count).where(
                members.c.conversation_id == conversation_id, members.c.user_id == bob
            )
        )
    assert (count, unread) == (1, 1)


async def test_unread_counts_match_real_count_after_concurrent_sends_and_reads(runtime) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    conversation_id = await open_accepted(runtime, alice, bob)
    send = sender(runtime)
    tx = in_transaction(runtime)

    chat = ChatWiring(runtime)

    async def read(actor: uuid.UUID, up_to: int):
        async def work(session):
            unit = chat.unit(session)
            return await use_cases.mark_read(
                actor=actor, conversation_id=conversation_id, up_to_seq=up_to, store=unit.store,
                events=unit.events,
            )  # fmt: skip

        return await tx(work)

    work = [send(alice if i % 3 else bob, conversation_id, f"m{i}") for i in range(30)]
    work += [read(bob, seq) for seq in (3, 9, 15, 21)] + [read(alice, seq) for seq in (5, 12, 30)]
    await asyncio.gather(*work)

    async with runtime.database().sessions() as session:
        rows = (
            await session.execute(sa.select(members).where(members.c.conversation_id == conversation_id))
        ).all()
        for row in rows:
            real = await session.scalar(
                sa.select(sa.func.count())
                .select_from(messages)
                .where(
                    messages.c.conversation_id == conversation_id,
                    messages.c.sender_id != row.user_id,
                    messages.c.seq > row.last_read_seq,
                )
            )
            assert row.unread_count == real, (row.user_id, row.last_read_seq)
        by_user = {row.user_id: row.last_read_seq for row in rows}
    # Read markers never regress below the highest requested value that existed at the time.
    assert by_user[bob] >= 3


async def test_direct_conversation_unique_per_pair_under_race(runtime) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    tx = in_transaction(runtime)
    chat = ChatWiring(runtime)

    async def open_(actor: uuid.UUID, other: uuid.UUID):
        async def work(session):
            unit = chat.unit(session)
            return await use_cases.open_direct(
                actor=actor, participant_ids=[other], store=unit.store, policy=unit.policy,
                limiter=chat.limiter, clock=chat.clock,
            )  # fmt: skip

        return await tx(work)

    results = await asyncio.gather(*[open_(alice, bob) if i % 2 else open_(bob, alice) for i in range(10)])
    assert len({view.conversation.id for view, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    async with runtime.database().sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(conversations)) == 1
        assert await session.scalar(sa.select(sa.func.count()).select_from(members)) == 2


async def test_cross_sends_do_not_deadlock(runtime) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    conversation_id = await open_accepted(runtime, alice, bob)
    send = sender(runtime)
    work = [send(alice, conversation_id, f"a{i}") for i in range(15)] + [
        send(bob, conversation_id, f"b{i}") for i in range(15)
    ]
    results = await asyncio.wait_for(asyncio.gather(*work), timeout=30)
    assert sorted(r.message.seq for r in results) == list(range(1, 31))

    # Three users sending around a triangle at once: every transaction locks its conversation,
    # its members, then the users' log cursors in ascending user id, so none waits in a cycle.
    carol = uuid.uuid4()
    with_carol = await open_accepted(runtime, bob, carol)
    carol_alice = await open_accepted(runtime, carol, alice)
    ring = [(alice, conversation_id), (bob, with_carol), (carol, carol_alice)]
    work = [send(actor, conv, f"r{i}") for i in range(10) for actor, conv in ring]
    await asyncio.wait_for(asyncio.gather(*work), timeout=30)
    async with runtime.database().sessions() as session:
        for user in (alice, bob, carol):
            seqs = list(
                await session.scalars(
                    sa.select(user_events.c.user_seq)
                    .where(user_events.c.user_id == user)
                    .order_by(user_events.c.user_seq)
                )
            )
            assert seqs == list(range(1, len(seqs) + 1)), "each user's log is gap-free"
