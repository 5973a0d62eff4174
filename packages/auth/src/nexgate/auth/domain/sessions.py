"""Device sessions and the refresh tokens that keep them alive."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

IDLE_LIFETIME = timedelta(days=60)
ABSOLUTE_LIFETIME = timedelta(days=365)
MAX_LIVE_SESSIONS = 30
#: A device unseen on the account for this long gets a "new sign-in" alert.
NEW_DEVICE_AFTER = timedelta(days=90)
#: Registrations never verified are removed after this long.
PENDING_ACCOUNT_TTL = timedelta(hours=24)
#: A retry of the token just rotated, while its successor is unused, gets the same successor.
REFRESH_GRACE = timedelta(seconds=30)


@dataclass(frozen=True)
class Device:
    device_id: str
    platform: str
    name: str | None = None
    model: str | None = None
    os_version: str | None = None
    app_version: str | None = None
    user_agent: str | None = None
    ip: str | None = None


@dataclass
class Session:
    id: uuid.UUID
    account_id: uuid.UUID
    device_hash: bytes
    platform: str
    created_at: datetime
    last_used_at: datetime
    idle_expires_at: datetime
    absolute_expires_at: datetime
    name: str | None = None
    model: str | None = None
    os_version: str | None = None
    app_version: str | None = None
    user_agent: str | None = None
    ip: str | None = None
    revoked_at: datetime | None = None
    revoked_reason: str | None = None

    @classmethod
    def start(
        cls, *, id: uuid.UUID, account_id: uuid.UUID, device: Device, device_hash: bytes, now: datetime
    ) -> Session:
        return cls(
            id=id,
            account_id=account_id,
            device_hash=device_hash,
            platform=device.platform,
            name=device.name,
            model=device.model,
            os_version=device.os_version,
            app_version=device.app_version,
            user_agent=device.user_agent,
            ip=device.ip,
            created_at=now,
            last_used_at=now,
            idle_expires_at=now + IDLE_LIFETIME,
            absolute_expires_at=now + ABSOLUTE_LIFETIME,
        )

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.idle_expires_at and now < self.absolute_expires_at

    def touched(self, now: datetime) -> datetime:
        """The new idle expiry after a use: 60 days on, never past the absolute expiry."""
        return min(now + IDLE_LIFETIME, self.absolute_expires_at)


@dataclass
class RefreshToken:
    id: uuid.UUID
    session_id: uuid.UUID
    token_hash: bytes
    created_at: datetime
    rotated_at: datetime | None = None
    successor_id: uuid.UUID | None = None


def mask_ip(ip: str | None) -> str:
    """Enough of an address for "was this me?" and no more: ``196.41.x.x``, ``2c0f:fe38:x``."""
    if not ip:
        return "unknown"
    if ":" in ip:
        return ":".join(ip.split(":")[:2]) + ":x"
    parts = ip.split(".")
    return ".".join(parts[:2]) + ".x.x" if len(parts) == 4 else "unknown"
