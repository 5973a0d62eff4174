"""The shared infrastructure a process hands to each context's bootstrap.

Built once per process by the apps (`build_runtime`), it owns the database
engines, the Redis client and the messaging topology; contexts receive it and
wire their own adapters from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from redis.asyncio import BlockingConnectionPool, Redis

from nexgate.kernel.clock import Clock, SystemClock
from nexgate.kernel.messaging.consumer import ConsumerWiring, Topology
from nexgate.kernel.messaging.naming import Naming
from nexgate.kernel.pagination import CursorCodec
from nexgate.kernel.settings import PlatformSettings
from nexgate.kernel.sql.database import Database
from nexgate.kernel.sql.outbox import OutboxTables

DatabaseName = Literal["core", "notifications"]


@dataclass
class Runtime:
    settings: PlatformSettings
    redis: Redis
    clock: Clock
    cursors: CursorCodec
    topology: Topology
    _databases: dict[str, Database] = field(default_factory=dict)

    @property
    def naming(self) -> Naming:
        return self.topology.naming

    def database(self, name: DatabaseName = "core") -> Database:
        url = self.settings.database_url if name == "core" else self.settings.notifications_database_url
        if url not in self._databases:
            self._databases[url] = Database(url)
        return self._databases[url]

    def consumer_wiring(
        self, context: str, tables: OutboxTables, database: DatabaseName = "core"
    ) -> ConsumerWiring:
        return ConsumerWiring(context, self.database(database), tables, self.topology)

    def redis_key(self, *parts: str) -> str:
        return self.settings.redis_prefix + ":".join(parts)

    async def aclose(self) -> None:
        for database in self._databases.values():
            await database.dispose()
        await self.redis.aclose()


def build_runtime(settings: PlatformSettings, clock: Clock | None = None) -> Runtime:
    return Runtime(
        settings=settings,
        redis=Redis.from_pool(
            BlockingConnectionPool.from_url(
                settings.redis_url,
                max_connections=settings.redis_max_connections,
                timeout=5,
                socket_connect_timeout=2,
                socket_timeout=5,
            )
        ),
        clock=clock or SystemClock(),
        cursors=CursorCodec(settings.cursor_secret),
        topology=Topology(Naming(settings.messaging_namespace), settings.retry_delays_ms),
    )
