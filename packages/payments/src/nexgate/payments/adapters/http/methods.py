"""`/api/v1/payments/methods`: the caller's mobile-money numbers."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from msgspec import UNSET

from nexgate.kernel.clock import Clock
from nexgate.kernel.http.auth import requires_principal
from nexgate.kernel.pagination import Page
from nexgate.kernel.security.principal import Principal
from nexgate.payments.adapters.http.controllers import PaymentsService
from nexgate.payments.adapters.http.schemas import MethodIn, MethodOut, MethodPatch
from nexgate.payments.application import methods


class MethodController(Controller):
    path = "/api/v1/payments/methods"
    tags = ["payments"]
    guards = [requires_principal]

    @post("/", summary="Save a mobile-money number (card numbers are refused)")
    async def create(
        self,
        data: JSONBody[MethodIn],
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
        clock: NamedDependency[Clock],
    ) -> MethodOut:
        method = await methods.add_method(
            uow=payments.uow,
            clock=clock,
            user_id=principal.user_id,
            phone=data.phone,
            operator=data.operator,
            label=data.label,
            make_default=data.is_default,
        )
        return MethodOut.of(method)

    @get("/", summary="My payment methods, newest first (a user has a handful: one page)")
    async def list_mine(
        self, principal: NamedDependency[Principal], payments: NamedDependency[PaymentsService]
    ) -> Page[MethodOut]:
        found = await methods.list_methods(uow=payments.uow, user_id=principal.user_id)
        return Page(items=[MethodOut.of(m) for m in found], next_cursor=None)

    @get("/{method_id:uuid}", summary="One of my payment methods")
    async def read(
        self,
        method_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
    ) -> MethodOut:
        return MethodOut.of(
            await methods.get_method(uow=payments.uow, user_id=principal.user_id, method_id=method_id)
        )

    @patch("/{method_id:uuid}", summary="Change the operator override, the label, or make it the default")
    async def update(
        self,
        method_id: FromPath[uuid.UUID],
        data: JSONBody[MethodPatch],
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
        clock: NamedDependency[Clock],
    ) -> MethodOut:
        changes: dict[str, object] = {
            name: getattr(data, name) for name in ("operator", "label") if getattr(data, name) is not UNSET
        }
        method = await methods.update_method(
            uow=payments.uow,
            clock=clock,
            user_id=principal.user_id,
            method_id=method_id,
            make_default=data.is_default,
            **changes,  # type: ignore[arg-type]
        )
        return MethodOut.of(method)

    @delete("/{method_id:uuid}", summary="Delete a payment method (the newest other one becomes the default)")
    async def remove(
        self,
        method_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
        clock: NamedDependency[Clock],
    ) -> None:
        await methods.delete_method(
            uow=payments.uow, clock=clock, user_id=principal.user_id, method_id=method_id
        )
