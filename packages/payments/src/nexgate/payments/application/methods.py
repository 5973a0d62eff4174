"""Payment methods: a user's mobile-money numbers (no card is ever accepted)."""

from __future__ import annotations

import uuid

from nexgate.kernel.clock import Clock
from nexgate.kernel.ids import new_id
from nexgate.kernel.phone import normalize_phone
from nexgate.payments.domain.methods import (
    DuplicatePaymentMethod,
    PaymentMethod,
    PaymentMethodNotFound,
    operator_of,
    refuse_card_number,
    validate_operator,
)
from nexgate.payments.ports import UnitOfWork

_UNSET = object()


def parse_mobile_number(raw: str, *, default_region: str = "TZ") -> str:
    """E.164 from any accepted form (``0712…``, ``712…``, ``255712…``, ``+255 712…``), after
    refusing anything that looks like a card number."""
    refuse_card_number(raw)
    return normalize_phone(raw, default_region=default_region, allowed_regions=("TZ", "KE"))


async def add_method(
    *,
    uow: UnitOfWork,
    clock: Clock,
    user_id: uuid.UUID,
    phone: str,
    operator: str | None = None,
    label: str | None = None,
    make_default: bool = False,
    default_region: str = "TZ",
) -> PaymentMethod:
    e164 = parse_mobile_number(phone, default_region=default_region)
    validate_operator(operator)
    region, derived = operator_of(e164)
    now = clock.now()
    async with uow() as tx:
        # Locking the user's methods serialises two adds racing for "first one is the default".
        existing = await tx.methods.of_user(user_id, lock=True)
        method = PaymentMethod(
            id=new_id(),
            user_id=user_id,
            phone=e164,
            region=region,
            operator=derived,
            operator_override=operator if operator != derived else None,
            label=label,
            is_default=make_default or not existing,
            verified=False,
            created_at=now,
        )
        if method.is_default:
            await tx.methods.clear_default(user_id, now)
        if not await tx.methods.add(method):
            raise DuplicatePaymentMethod("This number is already one of your payment methods.")
    return method


async def list_methods(*, uow: UnitOfWork, user_id: uuid.UUID) -> list[PaymentMethod]:
    async with uow() as tx:
        return await tx.methods.of_user(user_id)


async def get_method(*, uow: UnitOfWork, user_id: uuid.UUID, method_id: uuid.UUID) -> PaymentMethod:
    async with uow() as tx:
        method = await tx.methods.get(method_id)
    if method is None or method.user_id != user_id:
        raise PaymentMethodNotFound("No such payment method.")
    return method


async def update_method(
    *,
    uow: UnitOfWork,
    clock: Clock,
    user_id: uuid.UUID,
    method_id: uuid.UUID,
    operator: object = _UNSET,
    label: object = _UNSET,
    make_default: bool | None = None,
) -> PaymentMethod:
    """Change the operator override (None: back to the prefix's), the label, or make it the default."""
    now = clock.now()
    async with uow() as tx:
        methods = await tx.methods.of_user(user_id, lock=True)
        method = next((m for m in methods if m.id == method_id), None)
        if method is None:
            raise PaymentMethodNotFound("No such payment method.")
        if operator is not _UNSET:
            validate_operator(operator)  # type: ignore[arg-type]
            method.operator_override = None if operator == method.operator else operator  # type: ignore[assignment]
        if label is not _UNSET:
            method.label = label  # type: ignore[assignment]
        if make_default and not method.is_default:
            await tx.methods.clear_default(user_id, now)
            method.is_default = True
        await tx.methods.update(method, now)
    return method


async def delete_method(*, uow: UnitOfWork, clock: Clock, user_id: uuid.UUID, method_id: uuid.UUID) -> None:
    """Delete a method; deleting the default promotes the newest remaining one."""
    async with uow() as tx:
        methods = await tx.methods.of_user(user_id, lock=True)
        method = next((m for m in methods if m.id == method_id), None)
        if method is None:
            raise PaymentMethodNotFound("No such payment method.")
        await tx.methods.delete(method.id)
        rest = [m for m in methods if m.id != method.id]  # newest first
        if method.is_default and rest:
            rest[0].is_default = True
            await tx.methods.update(rest[0], clock.now())
