"""``nexgate payments ...`` commands."""

from __future__ import annotations

import asyncio
import sys

import click

from nexgate.kernel.runtime import build_runtime
from nexgate.kernel.settings import platform_settings
from nexgate.payments.adapters.sql.ledger import verify_ledger


@click.group()
def payments() -> None:
    """The payments context: ledger, wallets, escrow and mobile money."""


@payments.command("verify-ledger")
def verify_ledger_command() -> None:
    """Check the ledger: sums zero per currency, balances equal their postings, no floor broken,
    closed holds at zero. Exits 1 and lists every problem otherwise."""

    async def run() -> list[str]:
        runtime = build_runtime(platform_settings())
        try:
            async with runtime.database().sessions() as session:
                return await verify_ledger(session)
        finally:
            await runtime.aclose()

    problems = asyncio.run(run())
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        click.echo(f"ledger broken: {len(problems)} problem(s)", err=True)
        sys.exit(1)
    click.echo("ledger holds")
