"""Per-process adapters (Redis, files) and per-unit-of-work ones (the SQL session)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.chat.adapters.http.schemas import event_payload
from nexgate.chat.adapters.media import FilesMediaGateway
from nexgate.chat.adapters.realtime import RealtimeBus, RealtimeHub, RedisPresence, SocketTickets
from nexgate.chat.adapters.sql.models import tables
from nexgate.chat.adapters.sql.repository import SqlChatStore, SqlContactPolicy, SqlEventLog
from nexgate.chat.settings import ChatSettings
from nexgate.kernel.clock import Clock
from nexgate.kernel.http.ratelimit import RateLimiter
from nexgate.kernel.runtime import Runtime
from nexgate.kernel.sql.outbox import SqlOutbox


@dataclass
class ChatWiring:
    runtime: Runtime
    settings: ChatSettings = field(default_factory=ChatSettings)

    def __post_init__(self) -> None:
        redis, prefix = self.runtime.redis, self.runtime.settings.redis_prefix
        self.bus = RealtimeBus(redis, prefix)
        self.hub = RealtimeHub(self.bus, redis)
        self.presence = RedisPresence(redis, prefix)
        self.tickets = SocketTickets(redis, prefix)
        self.limiter = RateLimiter(redis, prefix=prefix)
        self.media = FilesMediaGateway(self.runtime)
        self._announcing: set[asyncio.Task[None]] = set()

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    def announce_after_commit(self, session: AsyncSession, unit: Unit) -> None:
        """Publishes the unit's events once its transaction commits (consumers own no response)."""

        def committed(_: object) -> None:
            if unit.events.appended:
                task = asyncio.get_running_loop().create_task(
                    self.bus.publish_events(list(unit.events.appended))
                )
                self._announcing.add(task)
                task.add_done_callback(self._announcing.discard)

        sa.event.listen(session.sync_session, "after_commit", committed, once=True)

    def unit(self, session: AsyncSession) -> Unit:
        return Unit(
            store=SqlChatStore(session),
            policy=SqlContactPolicy(session),
            events=SqlEventLog(session, event_payload, self.runtime.clock.now),
            outbox=SqlOutbox(session, tables),
        )


@dataclass
class Unit:
    """The SQL adapters of one transaction; ``events.appended`` is announced after its commit."""

    store: SqlChatStore
    policy: SqlContactPolicy
    events: SqlEventLog
    outbox: SqlOutbox
