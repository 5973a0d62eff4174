"""Wires the profiles adapters to the apps: the one place that knows both sides."""

from __future__ import annotations

from pathlib import Path

from nexgate.kernel.contexts import ContextSpec
from nexgate.profiles.adapters.http.plugin import ProfilesPlugin
from nexgate.profiles.adapters.jobs import jobs
from nexgate.profiles.adapters.messaging.router import build_router
from nexgate.profiles.adapters.sql import models

context = ContextSpec(
    name="profiles",
    metadata=models.metadata,
    tables=models.tables,
    migrations=Path(models.__file__).parent / "migrations",
    http=ProfilesPlugin,
    router=build_router,
    jobs=jobs,
)
