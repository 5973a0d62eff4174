"""The `Ledger` port on PostgreSQL: balances on the account rows, locked in id order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.kernel.money import Money
from nexgate.kernel.sql.keyset import keyset_after
from nexgate.payments.adapters.sql.models import accounts, holds, journal_entries, postings
from nexgate.payments.domain.intents import HoldStatus
from nexgate.payments.domain.ledger import AccountKind, AccountRef, JournalEntry, WalletFrozen, check_floor


@dataclass(frozen=True, slots=True)
class StatementLine:
    posting_id: int
    entry_id: uuid.UUID
    kind: str
    amount: Money
    balance_after: Money
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EntryView:
    id: uuid.UUID
    kind: str
    created_at: datetime
    lines: list[StatementLine]


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: int
    key: str
    kind: str
    currency: str
    balance: int
    frozen: bool


class SqlLedger:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def post(self, entry: JournalEntry) -> bool:
        """Post ``entry`` in the caller's transaction; False (and nothing written) if an
        entry with its idempotency key exists already, committed or not (a concurrent
        twin waits on the unique index, then finds it)."""
        created = await self._session.execute(
            pg.insert(journal_entries)
            .values(
                id=entry.id, kind=entry.kind, reference=entry.reference, idempotency_key=entry.idempotency_key
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(journal_entries.c.id)
        )
        if created.first() is None:
            return False
        refs = [p.account for p in entry.postings]
        # Every writer locks its accounts in ascending id order: no deadlock between two
        # transfers in opposite directions, and no lost update. Accounts are created on first
        # use; the common case (all exist) is one statement.
        locked = await self._lock(refs)
        if len(locked) < len(refs):
            await self._ensure_accounts([r for r in refs if r.key not in locked])
            locked = await self._lock(refs)
        new_balances: list[dict[str, int]] = []
        rows: list[dict[str, object]] = []
        for posting in entry.postings:
            account = locked[posting.account.key]
            delta = posting.amount.amount
            if delta < 0 and account.frozen:
                raise WalletFrozen("This wallet is frozen.")
            check_floor(posting.account, account.balance, delta)
            after = account.balance + delta
            new_balances.append({"account_id": account.id, "new_balance": after})
            rows.append(
                {
                    "entry_id": entry.id,
                    "account_id": account.id,
                    "amount": delta,
                    "currency": posting.amount.currency,
                    "balance_after": after,
                }
            )
        await self._session.execute(
            sa.update(accounts)
            .where(accounts.c.id == sa.bindparam("account_id"))
            .values(balance=sa.bindparam("new_balance")),
            new_balances,
            execution_options={"synchronize_session": False},
        )
        await self._session.execute(sa.insert(postings), rows)
        return True

    async def _lock(self, refs: Sequence[AccountRef]) -> dict[str, sa.Row]:
        rows = await self._session.execute(
            sa.select(
                accounts.c.id,
                accounts.c.key,
                accounts.c.kind,
                accounts.c.currency,
                accounts.c.balance,
                accounts.c.frozen,
            )
            .where(accounts.c.key.in_(sorted({r.key for r in refs})))
            .order_by(accounts.c.id)
            .with_for_update()
        )
        return {row.key: row for row in rows.all()}

    async def _ensure_accounts(self, refs: Sequence[AccountRef]) -> dict[str, int]:
        keys = sorted({ref.key for ref in refs})
        by_key = {ref.key: ref for ref in refs}
        await self._session.execute(
            pg.insert(accounts)
            .values(
                [
                    {
                        "key": key,
                        "kind": by_key[key].kind.value,
                        "currency": by_key[key].currency,
                        "owner_id": by_key[key].owner_id,
                        "hold_id": by_key[key].hold_id,
                        "provider": by_key[key].provider,
                    }
                    for key in keys
                ]
            )
            .on_conflict_do_nothing(index_elements=["key"])
        )
        found = await self._session.execute(
            sa.select(accounts.c.key, accounts.c.id).where(accounts.c.key.in_(keys))
        )
        return {row.key: row.id for row in found.all()}

    async def account(self, ref: AccountRef) -> AccountRow | None:
        row = (
            await self._session.execute(
                sa.select(
                    accounts.c.id,
                    accounts.c.key,
                    accounts.c.kind,
                    accounts.c.currency,
                    accounts.c.balance,
                    accounts.c.frozen,
                ).where(accounts.c.key == ref.key)
            )
        ).first()
        return AccountRow(*row) if row else None

    async def balance(self, ref: AccountRef) -> Money:
        row = await self.account(ref)
        return Money(row.balance if row else 0, ref.currency)

    async def wallets_of(self, owner_id: uuid.UUID) -> list[AccountRow]:
        rows = await self._session.execute(
            sa.select(
                accounts.c.id,
                accounts.c.key,
                accounts.c.kind,
                accounts.c.currency,
                accounts.c.balance,
                accounts.c.frozen,
            )
            .where(accounts.c.owner_id == owner_id, accounts.c.kind == AccountKind.WALLET.value)
            .order_by(accounts.c.currency)
        )
        return [AccountRow(*row) for row in rows.all()]

    async def freeze_state(self, owner_id: uuid.UUID) -> str | None:
        """``admin``, ``owner`` or None: who froze the owner's wallets (an admin freeze wins)."""
        rows = await self._session.execute(
            sa.select(accounts.c.frozen_by).where(
                accounts.c.owner_id == owner_id,
                accounts.c.kind == AccountKind.WALLET.value,
                accounts.c.frozen,
            )
        )
        found = {r[0] for r in rows.all()}
        return "admin" if "admin" in found else ("owner" if found else None)

    async def set_frozen(self, owner_id: uuid.UUID, currencies: Sequence[str], by: str | None) -> None:
        """Freeze (``by`` = admin | owner) or unfreeze (None) every wallet of the owner; wallets
        are created first so a currency first used later is frozen too."""
        await self._ensure_accounts([AccountRef.wallet(owner_id, c) for c in currencies])
        await self._session.execute(
            sa.update(accounts)
            .where(accounts.c.owner_id == owner_id, accounts.c.kind == AccountKind.WALLET.value)
            .values(frozen=by is not None, frozen_by=by)
        )

    async def entry_for_owner(self, entry_id: uuid.UUID, owner_id: uuid.UUID) -> EntryView | None:
        """An entry as its owner sees it: kind, time and the postings to the owner's wallets
        (None when it touched none of them)."""
        rows = (
            await self._session.execute(
                sa.select(
                    journal_entries.c.kind,
                    journal_entries.c.created_at,
                    postings.c.id,
                    postings.c.amount,
                    postings.c.currency,
                    postings.c.balance_after,
                )
                .select_from(
                    postings.join(accounts, accounts.c.id == postings.c.account_id).join(
                        journal_entries, journal_entries.c.id == postings.c.entry_id
                    )
                )
                .where(
                    postings.c.entry_id == entry_id,
                    accounts.c.owner_id == owner_id,
                    accounts.c.kind == AccountKind.WALLET.value,
                )
                .order_by(postings.c.id)
            )
        ).all()
        if not rows:
            return None
        return EntryView(
            id=entry_id,
            kind=rows[0].kind,
            created_at=rows[0].created_at,
            lines=[
                StatementLine(
                    posting_id=r.id,
                    entry_id=entry_id,
                    kind=r.kind,
                    amount=Money(r.amount, r.currency),
                    balance_after=Money(r.balance_after, r.currency),
                    created_at=r.created_at,
                )
                for r in rows
            ],
        )

    async def wallet_statement(
        self,
        owner_id: uuid.UUID,
        *,
        currency: str | None,
        after: int | None,
        limit: int,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[StatementLine]:
        """The postings of ``owner_id``'s wallets, newest first, after posting id ``after``
        (``limit + 1`` rows: the last one only probes for another page)."""
        stmt = (
            sa.select(
                postings.c.id,
                postings.c.entry_id,
                journal_entries.c.kind,
                postings.c.amount,
                postings.c.currency,
                postings.c.balance_after,
                postings.c.created_at,
            )
            .select_from(
                postings.join(accounts, accounts.c.id == postings.c.account_id).join(
                    journal_entries, journal_entries.c.id == postings.c.entry_id
                )
            )
            .where(accounts.c.owner_id == owner_id, accounts.c.kind == AccountKind.WALLET.value)
        )
        if currency is not None:
            stmt = stmt.where(accounts.c.currency == currency)
        if since is not None:
            stmt = stmt.where(postings.c.created_at >= since)
        if until is not None:
            stmt = stmt.where(postings.c.created_at < until)
        stmt = keyset_after(stmt, [postings.c.id], None if after is None else [after], limit=limit)
        rows = await self._session.execute(stmt)
        return [
            StatementLine(
                posting_id=r.id,
                entry_id=r.entry_id,
                kind=r.kind,
                amount=Money(r.amount, r.currency),
                balance_after=Money(r.balance_after, r.currency),
                created_at=r.created_at,
            )
            for r in rows.all()
        ]


async def verify_ledger(session: AsyncSession) -> list[str]:
    """Every way the ledger could be wrong, as sentences; empty when it holds."""
    problems: list[str] = []
    sums = await session.execute(
        sa.select(accounts.c.currency, sa.func.sum(accounts.c.balance)).group_by(accounts.c.currency)
    )
    problems += [
        f"{currency}: balances sum to {total}, not 0" for currency, total in sums.all() if total != 0
    ]
    replay = (
        sa.select(postings.c.account_id, sa.func.sum(postings.c.amount).label("total"))
        .group_by(postings.c.account_id)
        .subquery()
    )
    drift = await session.execute(
        sa.select(accounts.c.key, accounts.c.balance, sa.func.coalesce(replay.c.total, 0))
        .select_from(accounts.outerjoin(replay, replay.c.account_id == accounts.c.id))
        .where(accounts.c.balance != sa.func.coalesce(replay.c.total, 0))
    )
    problems += [f"{key}: balance {bal} but postings sum to {total}" for key, bal, total in drift.all()]
    floors = await session.execute(
        sa.select(accounts.c.key, accounts.c.balance).where(
            accounts.c.kind != AccountKind.PROVIDER_CLEARING.value, accounts.c.balance < 0
        )
    )
    problems += [f"{key}: below zero ({bal})" for key, bal in floors.all()]
    unbalanced = await session.execute(
        sa.select(postings.c.entry_id, postings.c.currency)
        .group_by(postings.c.entry_id, postings.c.currency)
        .having(sa.func.sum(postings.c.amount) != 0)
    )
    problems += [f"entry {entry}: unbalanced in {cur}" for entry, cur in unbalanced.all()]
    closed = await session.execute(
        sa.select(holds.c.id, accounts.c.balance)
        .select_from(holds.join(accounts, accounts.c.hold_id == holds.c.id))
        .where(
            holds.c.status.in_([HoldStatus.RELEASED.value, HoldStatus.REFUNDED.value]),
            accounts.c.balance != 0,
        )
    )
    problems += [f"hold {hold}: closed but escrow holds {bal}" for hold, bal in closed.all()]
    held = await session.execute(
        sa.select(holds.c.id, holds.c.held, sa.func.coalesce(accounts.c.balance, 0))
        .select_from(holds.outerjoin(accounts, accounts.c.hold_id == holds.c.id))
        .where(holds.c.held != sa.func.coalesce(accounts.c.balance, 0))
    )
    problems += [f"hold {hold}: says {h} held but escrow holds {bal}" for hold, h, bal in held.all()]
    return problems
