"""Wallet freezes: an admin's freeze is lifted by an admin only; an owner may freeze (a lost
phone) and unfreeze their own. Frozen wallets still receive (refunds, returned payouts)."""

from __future__ import annotations

import uuid

from nexgate.kernel.errors import Forbidden, NotFound
from nexgate.kernel.ids import new_id
from nexgate.kernel.money import Money
from nexgate.payments.application.collection import Actor
from nexgate.payments.domain.ledger import AccountRef
from nexgate.payments.domain.ledger import transfer as transfer_entry
from nexgate.payments.ports import UnitOfWork

#: Wallets exist per currency; freezing covers the ones offered.
WALLET_CURRENCIES = ("KES", "TZS")


class FrozenByAdmin(Forbidden):
    default_code = "wallet_frozen_by_admin"


async def freeze(*, uow: UnitOfWork, actor: Actor, user_id: uuid.UUID) -> str:
    if not actor.admin and actor.user_id != user_id:
        raise NotFound("No such wallet.")
    async with uow() as tx:
        current = await tx.ledger.freeze_state(user_id)
        by = "admin" if actor.admin or current == "admin" else "owner"
        await tx.ledger.set_frozen(user_id, WALLET_CURRENCIES, by)
    return by


async def unfreeze(*, uow: UnitOfWork, actor: Actor, user_id: uuid.UUID) -> None:
    if not actor.admin and actor.user_id != user_id:
        raise NotFound("No such wallet.")
    async with uow() as tx:
        if await tx.ledger.freeze_state(user_id) == "admin" and not actor.admin:
            raise FrozenByAdmin("An administrator froze this wallet; only an administrator can unfreeze it.")
        await tx.ledger.set_frozen(user_id, WALLET_CURRENCIES, None)


async def transfer(
    *, uow: UnitOfWork, source_user: uuid.UUID, target_user: uuid.UUID, amount: Money, idempotency_key: str
) -> bool:
    """Move money between two users' wallets in one entry (False: the key was used already).
    Not offered over HTTP; the ledger benchmark drives the posting path through it."""
    async with uow() as tx:
        return await tx.ledger.post(
            transfer_entry(
                id=new_id(),
                kind="wallet_transfer",
                reference=f"user:{source_user}",
                idempotency_key=idempotency_key,
                source=AccountRef.wallet(source_user, amount.currency),
                targets=[(AccountRef.wallet(target_user, amount.currency), amount)],
            )
        )
