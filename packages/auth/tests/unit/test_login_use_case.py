"""The login use case with in-memory fakes of its ports."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from nexgate.auth.application.login import login
from nexgate.auth.application.services import AuthServices
from nexgate.auth.domain.accounts import Account, AccountStatus, Channel
from nexgate.auth.domain.sessions import Device
from nexgate.kernel.clock import FixedClock
from nexgate.kernel.errors import NotAuthenticated, RateLimited

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class FakeHasher:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def hash(self, password: str) -> str:
        return f"hash:{password}"

    async def verify(self, password_hash: str, password: str) -> bool:
        self.calls.append("verify")
        return password_hash == f"hash:{password}"

    async def dummy_verify(self, password: str) -> None:
        self.calls.append("dummy")

    def needs_rehash(self, password_hash: str) -> bool:
        return False


class FakeLockout:
    def __init__(self) -> None:
        self.failures: dict[str, int] = {}

    async def locked_for(self, identifier: str) -> int:
        return 900 if self.failures.get(identifier, 0) >= 3 else 0

    async def failed(self, identifier: str) -> int:
        self.failures[identifier] = self.failures.get(identifier, 0) + 1
        return 900 if self.failures[identifier] == 3 else 0

    async def clear(self, identifier: str) -> None:
        self.failures.pop(identifier, None)


class FakeLimiter:
    async def hit(self, bucket: str, identity: str, *, limit: int, window_s: float) -> None:
        return None


class FakeAccounts:
    def __init__(self, *accounts: Account) -> None:
        self.rows = list(accounts)

    async def find(self, channel: Channel, value: str, *, for_update: bool = False) -> Account | None:
        return next((a for a in self.rows if a.identifier(channel) == value), None)


class FakeOutbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def add(self, *messages: Any) -> None:
        self.messages.extend(messages)


class FakeTx:
    def __init__(self, accounts: FakeAccounts, outbox: FakeOutbox) -> None:
        self.accounts = accounts
        self.outbox = outbox


def services(
    accounts: FakeAccounts, hasher: FakeHasher, outbox: FakeOutbox, lockout: FakeLockout
) -> AuthServices:
    @asynccontextmanager
    async def uow() -> AsyncIterator[FakeTx]:
        yield FakeTx(accounts, outbox)

    unused: Any = None
    return AuthServices(
        uow=uow,  # type: ignore[arg-type]
        clock=FixedClock(NOW),
        hasher=hasher,
        codes=unused,
        cipher=unused,
        refresh=unused,
        tokens=unused,
        revoker=unused,
        reauth=unused,
        limiter=FakeLimiter(),
        lockout=lockout,
    )


def owner() -> Account:
    return Account(
        id=uuid.uuid4(),
        status=AccountStatus.ACTIVE,
        display_name="Amina",
        locale="sw",
        created_at=NOW,
        email="amina@example.com",
        password_hash="hash:right passphrase",
    )


async def test_unknown_identifier_costs_a_dummy_verify_and_answers_like_a_wrong_password() -> None:
    hasher, outbox, lockout = FakeHasher(), FakeOutbox(), FakeLockout()
    svc = services(FakeAccounts(owner()), hasher, outbox, lockout)
    device = Device("device-123", "android")
    errors = []
    for identifier in ("ghost@example.com", "amina@example.com", "not an identifier"):
        with pytest.raises(NotAuthenticated) as caught:
            await login(svc, identifier=identifier, password="wrong passphrase", device=device, ip="1.2.3.4")
        errors.append((caught.value.code, caught.value.detail))
    assert len(set(errors)) == 1
    assert errors[0][0] == "invalid_credentials"
    assert hasher.calls == ["dummy", "verify", "dummy"]


async def test_third_failure_locks_and_tells_the_owner_only() -> None:
    hasher, outbox, lockout = FakeHasher(), FakeOutbox(), FakeLockout()
    account = owner()
    svc = services(FakeAccounts(account), hasher, outbox, lockout)
    device = Device("device-123", "android")
    for _ in range(3):
        with pytest.raises(NotAuthenticated):
            await login(svc, identifier="amina@example.com", password="bad guess 1", device=device, ip="ip")
    assert [m.user_id for m in outbox.messages] == [account.id]
    with pytest.raises(RateLimited) as caught:
        await login(svc, identifier="amina@example.com", password="right passphrase", device=device, ip="ip")
    assert caught.value.code == "too_many_attempts"
    for _ in range(3):
        with pytest.raises(NotAuthenticated):
            await login(svc, identifier="ghost@example.com", password="bad guess 1", device=device, ip="ip")
    assert len(outbox.messages) == 1  # nobody to tell about an unknown identifier
