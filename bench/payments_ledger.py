"""The payments ledger's posting path under contention, against a bare single-row UPDATE.

32 concurrent workers make random wallet-to-wallet transfers through the application use case
(`nexgate.payments.application.wallets.transfer`: one transaction that inserts the entry,
locks both account rows FOR UPDATE in id order, checks the floors, updates both balances and
writes two postings, with the deferred balance trigger at commit), first over a **hot** set of
10 wallets (heavy lock contention), then over a **spread** set of 10,000. The baseline, in the
same run on the same PostgreSQL at the same concurrency, is a bare
``UPDATE bench_counters SET balance = balance + 1 WHERE id = $1`` per transaction on raw asyncpg
connections over the same two key sets. ``ratio`` = platform spread transfers/s / bare spread
updates/s (``hot_ratio`` the same for the hot set). ``invariantHolds`` is the ledger check
(`verify_ledger`: sums, balances = postings, floors, entries balanced) after the run.

Run alone: ``uv run python bench/payments_ledger.py``. Knobs: NEXGATE_BENCH_PAYMENTS_SECONDS
(7 s per phase, 4 phases), NEXGATE_BENCH_PAYMENTS_WORKERS (32).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid

import asyncpg
from _services import PG, drop_database, env_float, env_int

from nexgate.kernel.ids import new_id
from nexgate.kernel.money import Money
from nexgate.kernel.sql.database import Database
from nexgate.kernel.sql.migrations import upgrade
from nexgate.kernel.testing.services import recreate_database
from nexgate.payments.adapters.sql.ledger import verify_ledger
from nexgate.payments.adapters.sql.repository import sql_unit_of_work
from nexgate.payments.application import wallets
from nexgate.payments.bootstrap import context as payments_spec
from nexgate.payments.domain.ledger import InsufficientFunds

DESCRIPTION = (
    "32 workers: wallet-to-wallet transfers through the payments use case (hot 10 / spread 10,000 "
    "wallets) vs a bare single-row UPDATE balance = balance + 1 at the same concurrency"
)
DATABASE = "nexgate_bench_payments_ledger"
HOT, SPREAD = 10, 10_000
START_BALANCE = Money.of(1_000_000, "TZS")


async def _fund(dsn: str, users: list[uuid.UUID]) -> None:
    """Setup only: one funding entry (clearing -> every wallet) written in bulk with the
    triggers off for this transaction (the deferred balance check would read the 10,001-posting
    entry once per posting). `verify_ledger` checks the result with everything else at the end."""
    amount = START_BALANCE.amount
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            clearing = await conn.fetchval(
                "INSERT INTO payments.accounts (key, kind, currency, provider, balance) "
                "VALUES ('clearing:bench:TZS', 'provider_clearing', 'TZS', 'bench', $1) RETURNING id",
                -amount * len(users),
            )
            ids = await conn.fetch(
                "INSERT INTO payments.accounts (key, kind, currency, owner_id, balance) "
                "SELECT 'wallet:' || u || ':TZS', 'wallet', 'TZS', u, $2 FROM unnest($1::uuid[]) AS u "
                "RETURNING id",
                users,
                amount,
            )
            entry = new_id()
            await conn.execute(
                "INSERT INTO payments.journal_entries (id, kind, reference, idempotency_key) "
                "VALUES ($1, 'bench_funding', 'bench', $2)",
                entry,
                f"fund:{entry}",
            )
            await conn.execute(
                "INSERT INTO payments.postings (entry_id, account_id, amount, currency, balance_after) "
                "SELECT $1, a, $3, 'TZS', $3 FROM unnest($2::bigint[]) AS a",
                entry,
                [r["id"] for r in ids],
                amount,
            )
            await conn.execute(
                "INSERT INTO payments.postings (entry_id, account_id, amount, currency, balance_after) "
                "VALUES ($1, $2, $3, 'TZS', $3)",
                entry,
                clearing,
                -amount * len(users),
            )
    finally:
        await conn.close()


async def _platform(db: Database, users: list[uuid.UUID], seconds: float, workers: int) -> dict[str, float]:
    uow = sql_unit_of_work(db.sessions)
    done = refused = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, refused
        rng = random.Random()
        while time.perf_counter() < deadline:
            a, b = rng.sample(users, 2)
            try:
                await wallets.transfer(
                    uow=uow,
                    source_user=a,
                    target_user=b,
                    amount=Money.of(rng.randint(1, 50), "TZS"),
                    idempotency_key=str(uuid.uuid4()),
                )
                done += 1
            except InsufficientFunds:
                refused += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - started
    return {"per_s": round(done / elapsed, 1), "transfers": done, "refused": refused}


async def _bare(dsn: str, rows: int, seconds: float, workers: int) -> dict[str, float]:
    conns = [await asyncpg.connect(dsn) for _ in range(workers)]
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(conn: asyncpg.Connection) -> None:
        nonlocal done
        rng = random.Random()
        while time.perf_counter() < deadline:
            await conn.execute(
                "UPDATE bench_counters SET balance = balance + 1 WHERE id = $1", rng.randrange(rows)
            )
            done += 1

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in conns))
        elapsed = time.perf_counter() - started
    finally:
        for conn in conns:
            await conn.close()
    return {"per_s": round(done / elapsed, 1), "updates": done}


async def _run() -> dict[str, object]:
    seconds = env_float("NEXGATE_BENCH_PAYMENTS_SECONDS", 7.0)
    workers = env_int("NEXGATE_BENCH_PAYMENTS_WORKERS", 32)
    url = f"{PG}/{DATABASE}"
    await recreate_database(url)
    await upgrade(url, [payments_spec.migrations])
    db = Database(url, pool_size=workers)
    try:
        hot = [uuid.uuid4() for _ in range(HOT)]
        spread = [uuid.uuid4() for _ in range(SPREAD)]
        setup = time.perf_counter()
        await _fund(db.libpq_dsn, hot + spread)
        funding_s = time.perf_counter() - setup
        raw = await asyncpg.connect(db.libpq_dsn)
        try:
            await raw.execute("CREATE TABLE bench_counters (id int PRIMARY KEY, balance bigint NOT NULL)")
            await raw.execute("INSERT INTO bench_counters SELECT g, 0 FROM generate_series(0, $1) g", SPREAD)
        finally:
            await raw.close()
        bare_hot = await _bare(db.libpq_dsn, HOT, seconds, workers)
        platform_hot = await _platform(db, hot, seconds, workers)
        bare_spread = await _bare(db.libpq_dsn, SPREAD, seconds, workers)
        platform_spread = await _platform(db, spread, seconds, workers)
        async with db.sessions() as session:
            problems = await verify_ledger(session)
    finally:
        await db.dispose()
        await drop_database(url)
    return {
        "ratio": round(platform_spread["per_s"] / bare_spread["per_s"], 4),
        "ratio_definition": (
            "platform wallet-to-wallet transfers/s (use case, 10,000 wallets, 32 workers) / bare "
            "single-row UPDATE balance = balance + 1 per transaction/s (same rows, 32 connections)"
        ),
        "hot_ratio": round(platform_hot["per_s"] / bare_hot["per_s"], 4),
        "transfers_per_s": {"hot": platform_hot["per_s"], "spread": platform_spread["per_s"]},
        "bare_updates_per_s": {"hot": bare_hot["per_s"], "spread": bare_spread["per_s"]},
        "platform": {"hot": platform_hot, "spread": platform_spread},
        "bare": {"hot": bare_hot, "spread": bare_spread},
        "workers": workers,
        "seconds_per_phase": seconds,
        "funding_seconds": round(funding_s, 1),
        "invariantHolds": problems == [],
        "ledgerProblems": problems[:5],
    }


def run() -> dict[str, object]:
    return asyncio.run(_run())


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
