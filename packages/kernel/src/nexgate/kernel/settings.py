"""Settings: one base class, an env prefix per area, `.env` for development.

Every context declares ``class CommerceSettings(ContextSettings, env_prefix="NEXGATE_COMMERCE_")``.
`platform_settings()` is the one cached aggregate the apps read.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Development-only default; production refuses to start with it (see `_production_secrets`).
DEV_CURSOR_SECRET = "dev-cursor-secret-change-me"  # noqa: S105


class NexgateSettings(BaseSettings):
    """Base for every settings area: reads the environment, then `.env`."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True)


class PlatformSettings(NexgateSettings):
    """Settings shared by every process (env prefix ``NEXGATE_``)."""

    model_config = SettingsConfigDict(env_prefix="NEXGATE_")

    environment: Literal["development", "test", "production"] = "development"
    #: Comma-separated context names hosted by this process, or ``all``.
    contexts: str = "all"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/nexgate"
    notifications_database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/nexgate_notifications"
    redis_url: str = "redis://127.0.0.1:6379/0"
    #: Connections per process; a request beyond it waits (up to the socket timeout) for a
    #: free one instead of failing, so a burst of WebSocket traffic queues rather than errors.
    redis_max_connections: int = 256
    #: Prefix of every Redis key this deployment writes (lets tests share one server).
    redis_prefix: str = "nexgate:"
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    #: Prefix of every exchange and queue name (lets tests share one broker).
    messaging_namespace: str = ""
    #: Delays before each redelivery of a failed message; after the last one it is dead-lettered.
    retry_delays_ms: list[int] = Field(default_factory=lambda: [1_000, 10_000, 60_000])
    relay_poll_interval_s: float = 2.0
    relay_batch_size: int = 200
    #: Run the worker (consumers, relay, scheduler) inside the api process.
    embedded_worker: bool = True
    log_format: Literal["console", "json"] = "json"
    log_level: str = "INFO"
    max_body_bytes: int = 1_048_576
    #: Secret that signs pagination cursors; set it in production.
    cursor_secret: str = DEV_CURSOR_SECRET
    idempotency_ttl_s: int = 24 * 3600
    # Token verification (the auth context issues; every context verifies).
    jwt_issuer: str = "nexgate"
    jwt_audience: str = "nexgate"
    #: Split mode: where to fetch the JWKS. Empty: use the local key file (all-in-one mode).
    jwks_url: str = ""
    jwks_cache_s: int = 300
    signing_key_file: Path = Path("var/keys/jwt-signing.json")
    #: Where the filesystem blob store and console outboxes write in all-in-one mode.
    data_dir: Path = Path("var")

    @model_validator(mode="after")
    def _production_secrets(self) -> PlatformSettings:
        if self.environment == "production" and self.cursor_secret == DEV_CURSOR_SECRET:
            raise ValueError("set NEXGATE_CURSOR_SECRET in production")
        return self


@lru_cache(maxsize=1)
def platform_settings() -> PlatformSettings:
    return PlatformSettings()
