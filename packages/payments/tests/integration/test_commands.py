"""The console commands on a database of their own: `nexgate migrate && nexgate seed-demo &&
nexgate payments verify-ledger` exits 0 on an empty database, and 1 once a balance no longer
matches its postings."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from nexgate.kernel.testing.fixtures import PG
from nexgate.kernel.testing.services import drop_database

pytestmark = pytest.mark.integration


def nexgate(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        [sys.executable, "-c", "from nexgate.api.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def empty_database(worker_id):
    name = f"nexgate_test_cli{worker_id.replace('gw', '')}_{os.getpid()}"
    url, notifications = f"{PG}/{name}", f"{PG}/{name}_notifications"
    env = {
        **os.environ,
        "NEXGATE_ENVIRONMENT": "test",
        "NEXGATE_CONTEXTS": "payments",
        "NEXGATE_DATABASE_URL": url,
        "NEXGATE_NOTIFICATIONS_DATABASE_URL": notifications,
    }
    asyncio.run(drop_database(url))
    yield url, env
    asyncio.run(drop_database(url))
    asyncio.run(drop_database(notifications))


# Five fresh interpreters importing every context: slow on a busy machine.
@pytest.mark.timeout(400)
def test_migrate_seed_demo_then_verify_ledger_exits_0_and_1_once_broken(empty_database) -> None:
    url, env = empty_database
    outputs = []
    for args in (["migrate"], ["seed-demo"], ["payments", "verify-ledger"]):
        done = nexgate(env, *args)
        assert done.returncode == 0, (args, done.stdout, done.stderr[-800:])
        outputs.append(done.stdout)
    assert "seeded: payments" in outputs[1]
    assert "ledger holds" in outputs[2]
    # The demo moved real money: a top-up, a two-shop wallet payment, a release and a refund.

    async def kinds() -> list[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(sa.text("SELECT DISTINCT kind FROM payments.journal_entries"))
                return sorted(r[0] for r in rows)
        finally:
            await engine.dispose()

    assert asyncio.run(kinds()) == ["collection", "escrow_refund", "escrow_release", "wallet_payment"]
    # Seeding again leaves a context that holds data alone.
    again = nexgate(env, "seed-demo")
    assert again.returncode == 0
    assert "seeded: nothing" in again.stdout

    async def corrupt() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                # Balances are not append-only (postings are): a drift is what the check must catch.
                await conn.execute(
                    sa.text("UPDATE payments.accounts SET balance = balance + 100 WHERE kind = 'wallet'")
                )
        finally:
            await engine.dispose()

    asyncio.run(corrupt())
    done = nexgate(env, "payments", "verify-ledger")
    assert done.returncode == 1
    assert "postings sum to" in done.stderr
