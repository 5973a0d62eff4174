"""Wires the payments adapters to the apps: the one place that knows both sides."""

from __future__ import annotations

from pathlib import Path

from nexgate.kernel.contexts import ContextSpec
from nexgate.payments.adapters.cli import payments as payments_commands
from nexgate.payments.adapters.demo import seed_demo
from nexgate.payments.adapters.http.plugin import PaymentsPlugin
from nexgate.payments.adapters.jobs import payment_jobs
from nexgate.payments.adapters.messaging.router import build_router
from nexgate.payments.adapters.sql import models

context = ContextSpec(
    name="payments",
    metadata=models.metadata,
    tables=models.tables,
    migrations=Path(models.__file__).parent / "migrations",
    http=PaymentsPlugin,
    router=build_router,
    jobs=payment_jobs,
    seed_demo=seed_demo,
    commands=payments_commands,
)
