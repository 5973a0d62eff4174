"""Wires the skeleton's adapters to the apps: the one place that knows both sides."""

from __future__ import annotations

from pathlib import Path

from nexgate.kernel.contexts import ContextSpec
from nexgate.skeleton.adapters.http.plugin import SkeletonPlugin
from nexgate.skeleton.adapters.messaging.router import build_router
from nexgate.skeleton.adapters.sql import models

context = ContextSpec(
    name="skeleton",
    metadata=models.metadata,
    tables=models.tables,
    migrations=Path(models.__file__).parent / "migrations",
    http=SkeletonPlugin,
    router=build_router,
    # The template is hosted only when named in NEXGATE_CONTEXTS.
    default_enabled=False,
)
