"""One engine and session factory per database URL."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


@dataclass
class Database:
    url: str
    pool_size: int = 10
    engine: AsyncEngine = field(init=False)
    sessions: async_sessionmaker[AsyncSession] = field(init=False)

    def __post_init__(self) -> None:
        self.engine = create_async_engine(
            self.url,
            pool_size=self.pool_size,
            max_overflow=self.pool_size,
            pool_pre_ping=True,
            # Fail fast when PostgreSQL is down so the API can answer 503 instead of hanging.
            connect_args={"timeout": 5},
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def libpq_dsn(self) -> str:
        """The URL without the SQLAlchemy driver suffix, for raw asyncpg connections."""
        return make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def dispose(self) -> None:
        await self.engine.dispose()
