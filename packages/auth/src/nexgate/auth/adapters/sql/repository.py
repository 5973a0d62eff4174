"""The auth ports on PostgreSQL: conditional updates do the racing parts atomically."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nexgate.auth.adapters.sql.models import (
    accounts,
    audit_log,
    challenges,
    identities,
    refresh_tokens,
    sessions,
    tables,
)
from nexgate.auth.domain.accounts import Account, AccountStatus, Channel
from nexgate.auth.domain.challenges import RESEND_COOLDOWN, Challenge, Purpose
from nexgate.auth.domain.identities import Identity
from nexgate.auth.domain.sessions import RefreshToken, Session
from nexgate.auth.ports import AuthTx
from nexgate.kernel.ids import new_id
from nexgate.kernel.sql.keyset import keyset_after
from nexgate.kernel.sql.outbox import SqlOutbox


def _account(row: sa.Row) -> Account:
    return Account(
        id=row.id,
        status=AccountStatus(row.status),
        display_name=row.display_name,
        locale=row.locale,
        created_at=row.created_at,
        email=row.email,
        phone=row.phone,
        email_verified=row.email_verified,
        phone_verified=row.phone_verified,
        password_hash=row.password_hash,
        requested_username=row.requested_username,
        roles=frozenset(row.roles),
    )


def _identifier_column(channel: Channel) -> sa.Column:
    return accounts.c.email if channel is Channel.EMAIL else accounts.c.phone


class SqlAccounts:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add_if_free(self, account: Account) -> bool:
        stmt = (
            pg.insert(accounts)
            .values(
                id=account.id,
                status=account.status.value,
                email=account.email,
                phone=account.phone,
                email_verified=account.email_verified,
                phone_verified=account.phone_verified,
                password_hash=account.password_hash,
                display_name=account.display_name,
                requested_username=account.requested_username,
                locale=account.locale,
                roles=sorted(account.roles),
                created_at=account.created_at,
                activated_at=account.created_at if account.status is AccountStatus.ACTIVE else None,
            )
            .on_conflict_do_nothing()  # any live-identifier unique index: a racing registration won
            .returning(accounts.c.id)
        )
        return (await self._s.execute(stmt)).first() is not None

    async def get(self, account_id: uuid.UUID, *, for_update: bool = False) -> Account | None:
        stmt = sa.select(accounts).where(accounts.c.id == account_id)
        row = (await self._s.execute(stmt.with_for_update() if for_update else stmt)).first()
        return _account(row) if row else None

    async def find(self, channel: Channel, value: str, *, for_update: bool = False) -> Account | None:
        stmt = sa.select(accounts).where(
            _identifier_column(channel) == value, accounts.c.status != AccountStatus.DELETED.value
        )
        row = (await self._s.execute(stmt.with_for_update() if for_update else stmt)).first()
        return _account(row) if row else None

    async def replace_pending(self, account: Account) -> None:
        await self._s.execute(
            sa.update(accounts)
            .where(accounts.c.id == account.id, accounts.c.status == AccountStatus.PENDING.value)
            .values(
                password_hash=account.password_hash,
                display_name=account.display_name,
                requested_username=account.requested_username,
                locale=account.locale,
                created_at=account.created_at,
            )
        )

    async def activate(self, account_id: uuid.UUID, channel: Channel, now: datetime) -> bool:
        verified = {"email_verified": True} if channel is Channel.EMAIL else {"phone_verified": True}
        result = await self._s.execute(
            sa.update(accounts)
            .where(accounts.c.id == account_id, accounts.c.status == AccountStatus.PENDING.value)
            .values(status=AccountStatus.ACTIVE.value, activated_at=now, **verified)
            .returning(accounts.c.id)
        )
        return result.first() is not None

    async def set_status(
        self,
        account_id: uuid.UUID,
        status: AccountStatus,
        *,
        deletion_at: datetime | None = None,
        suspended_until: datetime | None = None,
    ) -> None:
        await self._s.execute(
            sa.update(accounts)
            .where(accounts.c.id == account_id)
            .values(status=status.value, deletion_at=deletion_at, suspended_until=suspended_until)
        )

    async def set_password(self, account_id: uuid.UUID, password_hash: str) -> None:
        await self._s.execute(
            sa.update(accounts).where(accounts.c.id == account_id).values(password_hash=password_hash)
        )

    async def set_identifier(self, account_id: uuid.UUID, channel: Channel, value: str) -> bool:
        values = (
            {"email": value, "email_verified": True}
            if channel is Channel.EMAIL
            else {"phone": value, "phone_verified": True}
        )
        try:
            async with self._s.begin_nested():  # a savepoint: a lost race must not abort the transaction
                await self._s.execute(sa.update(accounts).where(accounts.c.id == account_id).values(**values))
        except IntegrityError:
            return False
        return True

    async def mark_verified(self, account_id: uuid.UUID, channel: Channel, value: str) -> bool:
        column = _identifier_column(channel)
        flag = {"email_verified": True} if channel is Channel.EMAIL else {"phone_verified": True}
        result = await self._s.execute(
            sa.update(accounts)
            .where(accounts.c.id == account_id, column == value)
            .values(**flag)
            .returning(accounts.c.id)
        )
        return result.first() is not None

    async def due_for_deletion(self, now: datetime, limit: int) -> list[uuid.UUID]:
        stmt = (
            sa.select(accounts.c.id)
            .where(accounts.c.status == AccountStatus.DELETION_SCHEDULED.value, accounts.c.deletion_at <= now)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self._s.execute(stmt)).scalars())

    async def erase(self, account_id: uuid.UUID, now: datetime) -> None:
        await self._s.execute(
            sa.update(accounts)
            .where(accounts.c.id == account_id)
            .values(
                status=AccountStatus.DELETED.value,
                email=None,
                phone=None,
                email_verified=False,
                phone_verified=False,
                password_hash=None,
                display_name="Deleted account",
                requested_username=None,
                roles=["user"],
                deletion_at=now,
                suspended_until=None,
            )
        )
        # Refresh tokens go with their sessions (ON DELETE CASCADE); challenges hold addresses.
        await self._s.execute(sa.delete(sessions).where(sessions.c.account_id == account_id))
        await self._s.execute(sa.delete(identities).where(identities.c.account_id == account_id))
        await self._s.execute(sa.delete(challenges).where(challenges.c.account_id == account_id))

    async def due_for_unsuspension(self, now: datetime, limit: int) -> list[uuid.UUID]:
        stmt = (
            sa.select(accounts.c.id)
            .where(accounts.c.status == AccountStatus.SUSPENDED.value, accounts.c.suspended_until <= now)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self._s.execute(stmt)).scalars())

    async def remove_pending(self, account_id: uuid.UUID) -> None:
        await self._s.execute(
            sa.delete(accounts).where(
                accounts.c.id == account_id, accounts.c.status == AccountStatus.PENDING.value
            )
        )

    async def delete_stale_pending(self, created_before: datetime) -> int:
        result = await self._s.execute(
            sa.delete(accounts)
            .where(accounts.c.status == AccountStatus.PENDING.value, accounts.c.created_at < created_before)
            .returning(accounts.c.id)
        )
        return len(result.all())

    async def set_roles(self, account_id: uuid.UUID, roles: frozenset[str]) -> None:
        await self._s.execute(
            sa.update(accounts).where(accounts.c.id == account_id).values(roles=sorted(roles))
        )


def _challenge(row: sa.Row) -> Challenge:
    return Challenge(
        id=row.id,
        purpose=Purpose(row.purpose),
        channel=Channel(row.channel),
        destination=row.destination,
        code_hash=row.code_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_sent_at=row.last_sent_at,
        account_id=row.account_id,
        decoy=row.decoy,
        attempts=row.attempts,
        consumed_at=row.consumed_at,
        superseded_at=row.superseded_at,
    )


def _open(now: datetime) -> sa.ColumnElement[bool]:
    c = challenges.c
    return sa.and_(c.consumed_at.is_(None), c.superseded_at.is_(None), c.expires_at > now)


class SqlChallenges:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, challenge: Challenge) -> None:
        await self._s.execute(
            sa.insert(challenges).values(
                id=challenge.id,
                account_id=challenge.account_id,
                purpose=challenge.purpose.value,
                channel=challenge.channel.value,
                destination=challenge.destination,
                code_hash=challenge.code_hash,
                decoy=challenge.decoy,
                attempts=challenge.attempts,
                created_at=challenge.created_at,
                expires_at=challenge.expires_at,
                last_sent_at=challenge.last_sent_at,
            )
        )

    async def get(self, challenge_id: uuid.UUID) -> Challenge | None:
        row = (await self._s.execute(sa.select(challenges).where(challenges.c.id == challenge_id))).first()
        return _challenge(row) if row else None

    async def supersede(self, channel: Channel, destination: str, purpose: Purpose, now: datetime) -> None:
        c = challenges.c
        await self._s.execute(
            sa.update(challenges)
            .where(
                c.channel == channel.value,
                c.destination == destination,
                c.purpose == purpose.value,
                c.consumed_at.is_(None),
                c.superseded_at.is_(None),
            )
            .values(superseded_at=now)
        )

    async def count_failed_attempt(
        self, challenge_id: uuid.UUID, max_attempts: int, now: datetime
    ) -> int | None:
        c = challenges.c
        result = await self._s.execute(
            sa.update(challenges)
            .where(c.id == challenge_id, c.attempts < max_attempts, _open(now))
            .values(attempts=c.attempts + 1)
            .returning(c.attempts)
        )
        return result.scalar_one_or_none()

    async def consume(self, challenge_id: uuid.UUID, max_attempts: int, now: datetime) -> bool:
        c = challenges.c
        result = await self._s.execute(
            sa.update(challenges)
            .where(c.id == challenge_id, c.attempts < max_attempts, c.decoy.is_(False), _open(now))
            .values(consumed_at=now)
            .returning(c.id)
        )
        return result.first() is not None

    async def renew_code(
        self, challenge_id: uuid.UUID, code_hash: bytes, now: datetime, expires_at: datetime
    ) -> bool:
        c = challenges.c
        result = await self._s.execute(
            sa.update(challenges)
            .where(c.id == challenge_id, c.last_sent_at <= now - RESEND_COOLDOWN, _open(now))
            .values(code_hash=code_hash, last_sent_at=now, expires_at=expires_at, attempts=0)
            .returning(c.id)
        )
        return result.first() is not None


def _session(row: sa.Row) -> Session:
    return Session(
        id=row.id,
        account_id=row.account_id,
        device_hash=row.device_hash,
        platform=row.platform,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        idle_expires_at=row.idle_expires_at,
        absolute_expires_at=row.absolute_expires_at,
        name=row.name,
        model=row.model,
        os_version=row.os_version,
        app_version=row.app_version,
        user_agent=row.user_agent,
        ip=row.ip,
        revoked_at=row.revoked_at,
        revoked_reason=row.revoked_reason,
    )


def _live(now: datetime) -> sa.ColumnElement[bool]:
    c = sessions.c
    return sa.and_(c.revoked_at.is_(None), c.idle_expires_at > now, c.absolute_expires_at > now)


class SqlSessions:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, session: Session) -> None:
        await self._s.execute(
            sa.insert(sessions).values(
                id=session.id,
                account_id=session.account_id,
                device_hash=session.device_hash,
                name=session.name,
                platform=session.platform,
                model=session.model,
                os_version=session.os_version,
                app_version=session.app_version,
                user_agent=session.user_agent,
                ip=session.ip,
                created_at=session.created_at,
                last_used_at=session.last_used_at,
                idle_expires_at=session.idle_expires_at,
                absolute_expires_at=session.absolute_expires_at,
            )
        )

    async def get(self, session_id: uuid.UUID, *, for_update: bool = False) -> Session | None:
        stmt = sa.select(sessions).where(sessions.c.id == session_id)
        row = (await self._s.execute(stmt.with_for_update() if for_update else stmt)).first()
        return _session(row) if row else None

    async def lock_for_refresh(self, token_hash: bytes) -> Session | None:
        owner = sa.select(refresh_tokens.c.session_id).where(refresh_tokens.c.token_hash == token_hash)
        stmt = sa.select(sessions).where(sessions.c.id == owner.scalar_subquery()).with_for_update()
        row = (await self._s.execute(stmt)).first()
        return _session(row) if row else None

    async def live_for_account(
        self,
        account_id: uuid.UUID,
        now: datetime,
        *,
        after: tuple[datetime, uuid.UUID] | None = None,
        limit: int | None = None,
    ) -> Sequence[Session]:
        base = sa.select(sessions).where(sessions.c.account_id == account_id, _live(now))
        stmt = keyset_after(
            base, [sessions.c.created_at, sessions.c.id], after, descending=True, limit=limit or 1000
        )
        return [_session(row) for row in (await self._s.execute(stmt)).all()]

    async def touch(self, session_id: uuid.UUID, now: datetime, idle_expires_at: datetime) -> None:
        await self._s.execute(
            sa.update(sessions)
            .where(sessions.c.id == session_id)
            .values(last_used_at=now, idle_expires_at=idle_expires_at)
        )

    async def device_seen_since(self, account_id: uuid.UUID, device_hash: bytes, since: datetime) -> bool:
        c = sessions.c
        stmt = sa.select(sa.literal(True)).where(
            c.account_id == account_id, c.device_hash == device_hash, c.last_used_at > since
        )
        return (await self._s.execute(stmt.limit(1))).first() is not None

    async def rename(self, session_id: uuid.UUID, name: str) -> None:
        await self._s.execute(sa.update(sessions).where(sessions.c.id == session_id).values(name=name))

    async def revoke(self, session_ids: Sequence[uuid.UUID], reason: str, now: datetime) -> list[uuid.UUID]:
        if not session_ids:
            return []
        result = await self._s.execute(
            sa.update(sessions)
            .where(sessions.c.id.in_(list(session_ids)), sessions.c.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
            .returning(sessions.c.id)
        )
        return list(result.scalars())


def _token(row: sa.Row) -> RefreshToken:
    return RefreshToken(
        id=row.id,
        session_id=row.session_id,
        token_hash=row.token_hash,
        created_at=row.created_at,
        rotated_at=row.rotated_at,
        successor_id=row.successor_id,
    )


class SqlRefreshTokens:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, token: RefreshToken) -> None:
        await self._s.execute(
            sa.insert(refresh_tokens).values(
                id=token.id,
                session_id=token.session_id,
                token_hash=token.token_hash,
                created_at=token.created_at,
            )
        )

    async def by_hash(self, token_hash: bytes) -> RefreshToken | None:
        row = (
            await self._s.execute(sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash))
        ).first()
        return _token(row) if row else None

    async def get(self, token_id: uuid.UUID) -> RefreshToken | None:
        row = (
            await self._s.execute(sa.select(refresh_tokens).where(refresh_tokens.c.id == token_id))
        ).first()
        return _token(row) if row else None

    async def rotate(self, token_id: uuid.UUID, successor: RefreshToken, now: datetime) -> bool:
        c = refresh_tokens.c
        added = (
            sa.insert(refresh_tokens)
            .values(
                id=successor.id,
                session_id=successor.session_id,
                token_hash=successor.token_hash,
                created_at=successor.created_at,
            )
            .cte("successor")
        )
        result = await self._s.execute(
            sa.update(refresh_tokens)
            .add_cte(added)
            .where(c.id == token_id, c.rotated_at.is_(None))
            .values(rotated_at=now, successor_id=successor.id)
            .returning(c.id)
        )
        return result.first() is not None


def _identity(row: sa.Row) -> Identity:
    return Identity(
        id=row.id,
        account_id=row.account_id,
        provider=row.provider,
        subject=row.subject,
        email=row.email,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


class SqlIdentities:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, identity: Identity) -> bool:
        stmt = (
            pg.insert(identities)
            .values(
                id=identity.id,
                account_id=identity.account_id,
                provider=identity.provider,
                subject=identity.subject,
                email=identity.email,
                created_at=identity.created_at,
                last_used_at=identity.last_used_at,
            )
            .on_conflict_do_nothing(constraint="uq_identities_provider_subject")
            .returning(identities.c.id)
        )
        return (await self._s.execute(stmt)).first() is not None

    async def by_subject(self, provider: str, subject: str) -> Identity | None:
        c = identities.c
        row = (
            await self._s.execute(sa.select(identities).where(c.provider == provider, c.subject == subject))
        ).first()
        return _identity(row) if row else None

    async def get(self, identity_id: uuid.UUID) -> Identity | None:
        row = (await self._s.execute(sa.select(identities).where(identities.c.id == identity_id))).first()
        return _identity(row) if row else None

    async def for_account(self, account_id: uuid.UUID) -> list[Identity]:
        c = identities.c
        stmt = sa.select(identities).where(c.account_id == account_id).order_by(c.created_at, c.id)
        return [_identity(row) for row in (await self._s.execute(stmt)).all()]

    async def touch(self, identity_id: uuid.UUID, now: datetime) -> None:
        await self._s.execute(
            sa.update(identities).where(identities.c.id == identity_id).values(last_used_at=now)
        )

    async def remove(self, identity_id: uuid.UUID) -> None:
        await self._s.execute(sa.delete(identities).where(identities.c.id == identity_id))


class SqlAudit:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def record(
        self,
        *,
        actor_id: uuid.UUID | None,
        action: str,
        target_id: uuid.UUID,
        details: dict[str, object],
        now: datetime,
    ) -> None:
        await self._s.execute(
            sa.insert(audit_log).values(
                id=new_id(),
                actor_id=actor_id,
                action=action,
                target_id=target_id,
                details=details,
                created_at=now,
            )
        )


class SqlAuthTx:
    def __init__(self, session: AsyncSession) -> None:
        self.accounts = SqlAccounts(session)
        self.challenges = SqlChallenges(session)
        self.sessions = SqlSessions(session)
        self.refresh_tokens = SqlRefreshTokens(session)
        self.identities = SqlIdentities(session)
        self.audit = SqlAudit(session)
        self.outbox = SqlOutbox(session, tables)


class SqlUnitOfWork:
    """Each call opens one transaction; it commits when the block ends without an error."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AuthTx]:
        async with self._sessions() as session, session.begin():
            tx: AuthTx = SqlAuthTx(session)  # mypy checks the adapter against the port here
            yield tx
