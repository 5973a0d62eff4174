"""The ``nexgate`` command: run the platform and administer it.

Contexts add their own sub-commands through ``ContextSpec.commands``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import defaultdict
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from nexgate.kernel.contexts import ContextSpec, available_contexts, select_contexts
from nexgate.kernel.settings import PlatformSettings, platform_settings


def _console() -> Console:
    # Piped output (logs, CI, tests) must not truncate queue names to 80 columns.
    return Console(width=None if sys.stdout.isatty() else 200)


def _settings() -> PlatformSettings:
    return platform_settings()


def _hosted() -> list[ContextSpec]:
    return select_contexts(_settings().contexts)


@click.group()
def main() -> None:
    """Nexgate: social commerce for East Africa."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="granian worker processes")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the HTTP API with granian (and the embedded worker unless NEXGATE_EMBEDDED_WORKER=false)."""
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        "nexgate.api.asgi:create_app",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        log_access=False,
    ).serve()


@main.command()
def worker() -> None:
    """Run the worker alone: consumers, outbox relay and scheduler."""
    from nexgate.kernel.logging import configure_logging
    from nexgate.worker.app import create_app

    settings = _settings()
    configure_logging(fmt=settings.log_format, level=settings.log_level)
    asyncio.run(create_app().run())


def _by_database(specs: list[ContextSpec], settings: PlatformSettings) -> dict[str, list[Path]]:
    urls = {"core": settings.database_url, "notifications": settings.notifications_database_url}
    grouped: dict[str, list[Path]] = defaultdict(list)
    for spec in specs:
        grouped[urls[spec.database]].append(spec.migrations)
    return grouped


@main.command()
def migrate() -> None:
    """Create the databases if missing and upgrade every hosted context to its latest migration."""
    from nexgate.kernel.sql.migrations import ensure_database, upgrade

    specs = _hosted()
    settings = _settings()

    async def run() -> None:
        # Both databases exist even before any context needs them: /health/ready checks the core one.
        for url in (settings.database_url, settings.notifications_database_url):
            await ensure_database(url)
        for url, locations in _by_database(specs, settings).items():
            await upgrade(url, locations)

    asyncio.run(run())
    _console().print(f"migrated: {', '.join(s.name for s in specs) or 'no contexts hosted'}")


@main.command("make-migration")
@click.argument("context")
@click.option("-m", "--message", required=True)
def make_migration(context: str, message: str) -> None:
    """Autogenerate a migration for CONTEXT from its models (run `nexgate migrate` first)."""
    from nexgate.kernel.sql.migrations import make_revision

    spec = available_contexts()[context]
    settings = _settings()
    url = settings.database_url if spec.database == "core" else settings.notifications_database_url
    asyncio.run(make_revision(url, spec.migrations, message))


@main.command("seed-demo")
def seed_demo() -> None:
    """Fill empty contexts with demo data (contexts that already hold data are left alone)."""
    from nexgate.kernel.runtime import build_runtime

    async def run() -> list[str]:
        runtime = build_runtime(_settings())
        try:
            return [s.name for s in _hosted() if s.seed_demo is not None and await s.seed_demo(runtime)]
        finally:
            await runtime.aclose()

    seeded = asyncio.run(run())
    _console().print(f"seeded: {', '.join(seeded) or 'nothing (already seeded or no context seeds)'}")


@main.command("create-admin")
@click.option("--identifier", required=True, help="phone number or email of the administrator")
@click.password_option()
def create_admin(identifier: str, password: str) -> None:
    """Create an administrator account (provided by the auth context)."""
    from nexgate.kernel.runtime import build_runtime

    creators = [s for s in _hosted() if s.create_admin is not None]
    if not creators:
        raise click.ClickException("no hosted context creates accounts: install and host the auth context")

    async def run() -> str:
        runtime = build_runtime(_settings())
        try:
            return await creators[0].create_admin(runtime, identifier, password)  # type: ignore[misc]
        finally:
            await runtime.aclose()

    _console().print(f"administrator created: {asyncio.run(run())}")


@main.group()
def outbox() -> None:
    """Inspect and repair the messaging pipeline."""


@outbox.command("status")
def outbox_status() -> None:
    """Unpublished outbox rows per context and dead letters per consumer queue."""
    from nexgate.kernel.messaging.admin import dead_letters, outbox_lag
    from nexgate.worker.app import build_worker

    settings = _settings()
    worker = build_worker(settings)

    async def run() -> tuple[list, list]:
        try:
            lags = await outbox_lag(worker.outbox_sources)
            dead = await dead_letters(settings.rabbitmq_url, worker.runtime.topology.consumer_queues)
            return lags, dead
        finally:
            await worker.runtime.aclose()

    lags, dead = asyncio.run(run())
    table = Table("context", "pending", "oldest pending", "failing", title="outbox")
    for lag in lags:
        table.add_row(lag.context, str(lag.pending), str(lag.oldest_pending_age or "-"), str(lag.failing))
    _console().print(table)
    table = Table("queue", "dead letters", "last error", title="dead letters")
    for row in dead:
        table.add_row(row.queue, str(row.count), row.last_error or "-")
    _console().print(table)
    if any(row.count for row in dead):
        sys.exit(1)


@outbox.command("replay")
@click.argument("queue")
@click.option("--limit", type=int, default=None, help="move at most this many messages")
def outbox_replay(queue: str, limit: int | None) -> None:
    """Move QUEUE's dead letters back to QUEUE for another round of attempts."""
    from nexgate.kernel.messaging.admin import replay_dead_letters

    moved = asyncio.run(replay_dead_letters(_settings().rabbitmq_url, queue, limit))
    _console().print(f"replayed {moved} message(s) to {queue}")


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/openapi.json"), show_default=True)
def openapi(out: Path) -> None:
    """Write the OpenAPI document of the hosted contexts."""
    import msgspec

    from nexgate.api.asgi import create_app

    app = create_app()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(
        msgspec.json.format(msgspec.json.encode(app.openapi_schema.to_schema()), indent=2) + b"\n"
    )
    _console().print(f"wrote {out}")


@main.command()
@click.option("--port", default=8000, show_default=True, type=int)
def dev(port: int) -> None:
    """All-in-one development run: migrate, seed demo data, serve api + worker with readable logs."""
    os.environ.setdefault("NEXGATE_LOG_FORMAT", "console")
    os.environ.setdefault("NEXGATE_EMBEDDED_WORKER", "true")
    platform_settings.cache_clear()
    ctx = click.get_current_context()
    ctx.invoke(migrate)
    ctx.invoke(seed_demo)
    _console().print(f"[bold]Nexgate[/bold] on http://127.0.0.1:{port}  docs: http://127.0.0.1:{port}/docs")
    ctx.invoke(serve, host="127.0.0.1", port=port, workers=1)


for _spec in available_contexts().values():
    if _spec.commands is not None:
        main.add_command(_spec.commands, _spec.name)
