"""Administration: the first administrator, and global roles (audited)."""

from __future__ import annotations

import uuid

from nexgate.auth.application.common import revoke_sessions
from nexgate.auth.application.services import AuthServices
from nexgate.auth.domain.accounts import (
    Account,
    AccountStatus,
    Channel,
    clean_password,
    clean_roles,
    parse_identifier,
)
from nexgate.contracts.auth import RolesChanged
from nexgate.kernel.errors import Conflict, Forbidden, NotFound
from nexgate.kernel.ids import new_id
from nexgate.kernel.security.principal import Principal


async def create_admin(
    svc: AuthServices, *, identifier: str, password: str, display_name: str = "Administrator"
) -> uuid.UUID:
    """An active, verified account with the admin and staff roles (the ``nexgate create-admin`` command)."""
    ident = parse_identifier(
        identifier, default_region=svc.policy.default_region, allowed_regions=svc.policy.allowed_regions
    )
    clean = clean_password(password, identifiers=[ident.value], common=svc.policy.common_passwords)
    password_hash = await svc.hasher.hash(clean)
    now = svc.clock.now()
    account = Account(
        id=new_id(),
        status=AccountStatus.ACTIVE,
        display_name=display_name,
        locale=svc.policy.default_locale,
        created_at=now,
        email=ident.value if ident.channel is Channel.EMAIL else None,
        phone=ident.value if ident.channel is Channel.PHONE else None,
        email_verified=ident.channel is Channel.EMAIL,
        phone_verified=ident.channel is Channel.PHONE,
        password_hash=password_hash,
        roles=frozenset({"user", "staff", "admin"}),
    )
    async with svc.uow() as tx:
        if not await tx.accounts.add_if_free(account):
            raise Conflict("An account already holds this identifier.", code="account_exists")
        await tx.audit.record(
            actor_id=None,
            action="create_admin",
            target_id=account.id,
            details={"roles": sorted(account.roles)},
            now=now,
        )
    return account.id


async def set_roles(
    svc: AuthServices, *, actor: Principal, account_id: uuid.UUID, roles: list[str]
) -> frozenset[str]:
    """Replace an account's global roles; removing any role ends the account's sessions."""
    if not actor.has_role("admin"):
        raise Forbidden("Only administrators change roles.", code="forbidden")
    wanted = clean_roles(roles)
    now = svc.clock.now()
    async with svc.uow() as tx:
        account = await tx.accounts.get(account_id, for_update=True)
        if account is None or account.status is AccountStatus.DELETED:
            raise NotFound("No such account.", code="account_not_found")
        removed = account.roles - wanted
        await tx.accounts.set_roles(account.id, wanted)
        await tx.audit.record(
            actor_id=actor.user_id,
            action="set_roles",
            target_id=account.id,
            details={"before": sorted(account.roles), "after": sorted(wanted)},
            now=now,
        )
        await tx.outbox.add(RolesChanged(user_id=account.id, roles=sorted(wanted), changed_by=actor.user_id))
        if removed:
            live = await tx.sessions.live_for_account(account.id, now)
            await revoke_sessions(svc, tx, account.id, [s.id for s in live], "roles_changed", now)
    return wanted
