"""The auth context's in-process facade (and what the ``nexgate create-admin`` command calls)."""

from __future__ import annotations

from nexgate.auth.adapters.wiring import build_services
from nexgate.auth.application import admin
from nexgate.auth.settings import AuthSettings
from nexgate.kernel.runtime import Runtime


async def create_admin(runtime: Runtime, identifier: str, password: str) -> str:
    """Create an active administrator (roles user, staff, admin); returns the account id."""
    services = build_services(runtime, AuthSettings())
    return str(await admin.create_admin(services, identifier=identifier, password=password))
