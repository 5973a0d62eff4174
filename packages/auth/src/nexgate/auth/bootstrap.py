"""Wires the auth context's adapters to the apps: the one place that knows both sides."""

from __future__ import annotations

from pathlib import Path

from nexgate.auth import api
from nexgate.auth.adapters.cli import auth as auth_commands
from nexgate.auth.adapters.http.plugin import AuthPlugin
from nexgate.auth.adapters.jobs import jobs
from nexgate.auth.adapters.messaging.router import build_router
from nexgate.auth.adapters.sql import models
from nexgate.kernel.contexts import ContextSpec

context = ContextSpec(
    name="auth",
    metadata=models.metadata,
    tables=models.tables,
    migrations=Path(models.__file__).parent / "migrations",
    http=AuthPlugin,
    router=build_router,
    create_admin=api.create_admin,
    jobs=jobs,
    commands=auth_commands,
)
