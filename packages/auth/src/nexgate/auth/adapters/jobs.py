"""The auth context's periodic jobs (run by the worker's scheduler)."""

from __future__ import annotations

from collections.abc import Sequence

from nexgate.auth.adapters.wiring import build_services
from nexgate.auth.application.common import sweep_pending_accounts
from nexgate.auth.application.lifecycle import end_due_suspensions, erase_due_accounts
from nexgate.auth.settings import AuthSettings
from nexgate.kernel.messaging.scheduler import Job
from nexgate.kernel.runtime import Runtime


def jobs(runtime: Runtime) -> Sequence[Job]:
    services = build_services(runtime, AuthSettings())

    async def sweep() -> None:
        await sweep_pending_accounts(services)

    async def erase() -> None:
        while await erase_due_accounts(services) == 100:  # drain a backlog in batches
            pass

    async def unsuspend() -> None:
        while await end_due_suspensions(services) == 100:
            pass

    return [
        Job("auth.sweep_pending_accounts", 3600, sweep),
        Job("auth.erase_deleted_accounts", 3600, erase),
        Job("auth.end_suspensions", 300, unsuspend),
    ]
