"""How a context plugs into the apps: a `ContextSpec` found through an entry point.

Each context package declares ``[project.entry-points."nexgate.contexts"]
<name> = "nexgate.<name>.bootstrap:context"``; the apps host the contexts named
in ``NEXGATE_CONTEXTS`` (or every default one for ``all``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from nexgate.kernel.runtime import DatabaseName, Runtime
from nexgate.kernel.sql.outbox import OutboxTables

if TYPE_CHECKING:
    from faststream.rabbit import RabbitRouter
    from litestar.plugins import InitPluginProtocol

    from nexgate.kernel.messaging.scheduler import Job

ENTRY_POINT_GROUP = "nexgate.contexts"


@dataclass(frozen=True, kw_only=True)
class ContextSpec:
    name: str
    metadata: sa.MetaData
    tables: OutboxTables
    migrations: Path
    database: DatabaseName = "core"
    #: The Litestar plugin that mounts the context's controllers and dependencies.
    http: Callable[[Runtime], InitPluginProtocol] | None = None
    #: The FastStream router with the context's consumers.
    router: Callable[[Runtime], RabbitRouter] | None = None
    jobs: Callable[[Runtime], Sequence[Job]] = field(default=lambda runtime: ())
    #: Seeds demo data when the context holds none; returns True if it seeded.
    seed_demo: Callable[[Runtime], Awaitable[bool]] | None = None
    #: A click group added to the `nexgate` command as ``nexgate <name> ...``.
    commands: Any = None
    #: Creates an administrator account (the auth context provides it); returns its id.
    create_admin: Callable[[Runtime, str, str], Awaitable[str]] | None = None
    #: False for the template context: hosted only when named explicitly.
    default_enabled: bool = True


def available_contexts() -> dict[str, ContextSpec]:
    specs = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        spec = ep.load()
        if not isinstance(spec, ContextSpec) or spec.name != ep.name:
            raise TypeError(f"entry point {ep.name!r} must point at a ContextSpec named {ep.name!r}")
        specs[ep.name] = spec
    return specs


def select_contexts(selection: str) -> list[ContextSpec]:
    """The contexts named in ``selection`` ("all", or a comma-separated list)."""
    available = available_contexts()
    names = [n.strip() for n in selection.split(",") if n.strip()]
    if names == ["all"]:
        return [spec for name, spec in sorted(available.items()) if spec.default_enabled]
    unknown = sorted(set(names) - set(available))
    if unknown:
        raise ValueError(f"unknown contexts {unknown}; installed: {sorted(available)}")
    return [available[name] for name in names]
