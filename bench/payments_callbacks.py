"""Provider callbacks through the running payments api, against a bare one-row-insert endpoint.

The composed api (payments context, a throwaway migrated database, real Redis) runs on uvicorn
with the sandbox provider on and Selcom pointed at the fake Selcom gateway
(`nexgate.payments.testing.fake_selcom`). N intents per provider are created with a pending
attempt each; then, 16 at a time:

- **sandbox**: the sandbox provider settles each attempt and POSTs its callback to
  ``/callbacks/sandbox/{token}``;
- **Selcom**: a webhook signed like Selcom's (HMAC-SHA256 over the signed fields) is POSTed to
  ``/callbacks/selcom/{token}``.

Each callback is stored, its signature checked (Selcom), the result confirmed with the
provider's status API (Redis for the sandbox, the fake's order-status over HTTP for Selcom),
and the collection applied once (dedupe row, ledger entry, intent and holds, outbox message).
The clock stops when every intent has succeeded. Baseline, same run, same client, same
concurrency: a bare Litestar endpoint on uvicorn inserting one row per request (asyncpg pool).
``ratio`` = platform callbacks/s until succeeded / bare requests/s.

Run alone: ``uv run python bench/payments_callbacks.py``. Knob: NEXGATE_BENCH_PAYMENTS_CALLBACKS
(150 intents per provider).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from typing import Any

import asyncpg
import httpx
from _services import REDIS, REDIS_DB, bench_settings, delete_redis_prefix, drop_database, env_int

from nexgate.kernel.ids import new_id
from nexgate.kernel.money import Money
from nexgate.kernel.runtime import build_runtime
from nexgate.kernel.sql.migrations import upgrade
from nexgate.kernel.testing.services import recreate_database

DESCRIPTION = (
    "sandbox + signed Selcom callbacks posted at the running payments api until the intents "
    "succeed vs a bare Litestar endpoint inserting one row per request"
)
DATABASE = "nexgate_bench_payments_callbacks"
TOKEN = "bench-callback-token-0123456789"
CONCURRENCY = int(os.environ.get("NEXGATE_BENCH_CB_CONC", "16"))


async def _drive(http: httpx.AsyncClient, calls: list[Any]) -> float:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(call: Any) -> None:
        async with gate:
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(one(c) for c in calls))
    return time.perf_counter() - started


def _bare_app(dsn: str) -> Any:
    from litestar import Litestar, post

    state: dict[str, asyncpg.Pool] = {}

    async def startup() -> None:
        state["pool"] = await asyncpg.create_pool(dsn, min_size=4, max_size=20)

    async def shutdown() -> None:
        await state["pool"].close()

    @post("/callback", status_code=200)
    async def callback(data: dict[str, Any]) -> dict[str, bool]:
        await state["pool"].execute(
            "INSERT INTO bench_callbacks (id, body) VALUES ($1, $2)", uuid.uuid4(), json.dumps(data)
        )
        return {"received": True}

    return Litestar(route_handlers=[callback], on_startup=[startup], on_shutdown=[shutdown])


async def _run() -> dict[str, object]:
    from nexgate.api.asgi import create_app
    from nexgate.payments import api
    from nexgate.payments.adapters.sandbox.provider import SandboxProvider, SandboxState
    from nexgate.payments.adapters.sql.repository import sql_unit_of_work
    from nexgate.payments.bootstrap import context as payments_spec
    from nexgate.payments.domain.intents import Attempt, AttemptStatus
    from nexgate.payments.testing.fake_daraja import free_port, serve
    from nexgate.payments.testing.fake_selcom import FakeSelcom, Order

    n = env_int("NEXGATE_BENCH_PAYMENTS_CALLBACKS", 150)
    settings = bench_settings(DATABASE, contexts="payments")
    await recreate_database(settings.database_url)
    await upgrade(settings.database_url, [payments_spec.migrations])
    selcom = FakeSelcom()
    port = free_port()
    async with serve(selcom.app()) as selcom_url:
        env = {
            "SANDBOX": "true",
            "SANDBOX_DELAY_S": "3600",
            "CALLBACK_BASE_URL": f"http://127.0.0.1:{port}",
            "CALLBACK_TOKEN": TOKEN,
            "SELCOM_BASE_URL": selcom_url,
            "SELCOM_API_KEY": selcom.api_key,
            "SELCOM_API_SECRET": selcom.api_secret,
            "SELCOM_VENDOR": selcom.vendor,
        }
        os.environ.update({f"NEXGATE_PAYMENTS_{k}": v for k, v in env.items()})
        runtime = build_runtime(settings)
        app = create_app(settings)
        sandbox = SandboxProvider(runtime.redis, key_prefix=settings.redis_prefix, delay_s=3600)
        uow = sql_unit_of_work(runtime.database().sessions)
        base = f"http://127.0.0.1:{port}/api/v1/payments/callbacks"
        intents: list[uuid.UUID] = []
        sandbox_refs: list[str] = []
        selcom_orders: list[Order] = []
        try:
            for i in range(2 * n):
                provider = "sandbox" if i < n else "selcom"
                money = Money.of(1000 + i, "TZS")
                payer = uuid.uuid4()
                intent = await api.create_intent(
                    runtime,
                    actor=api.Actor.system("commerce"),
                    payer_id=payer,
                    amount=money,
                    purpose="order",
                    reference=f"bench-{i}",
                    splits=[api.Split(uuid.uuid4(), money, "line")],
                    idempotency_key=f"bench-{i}",
                )
                intents.append(intent.id)
                attempt_id = new_id()
                ref = f"SBX-C-{attempt_id.hex[-12:]}" if provider == "sandbox" else attempt_id.hex[-12:]
                attempt = Attempt(
                    id=attempt_id,
                    intent_id=intent.id,
                    payer_id=payer,
                    method="mobile_money",
                    provider=provider,
                    phone="+255754123456",
                    amount=money,
                    status=AttemptStatus.PENDING,
                    created_at=runtime.clock.now(),
                    provider_ref=ref,
                )
                async with uow() as tx:
                    await tx.store.add_attempt(attempt)
                    await tx.store.update_attempt(attempt, runtime.clock.now())
                if provider == "sandbox":
                    await sandbox._save(
                        ref, SandboxState("collection", "255754123456", 1000 + i, f"{base}/sandbox/{TOKEN}")
                    )
                    sandbox_refs.append(ref)
                else:
                    order = Order(
                        order_id=ref,
                        amount=1000 + i,
                        currency="TZS",
                        phone="255754123456",
                        webhook="",
                        created="",
                        transid=ref,
                        msisdn="255754123456",
                        payment_status="COMPLETED",
                        reference=f"S{i:09d}",
                    )
                    selcom.orders[ref] = order
                    selcom_orders.append(order)

            async def succeeded() -> int:
                async with runtime.database().sessions() as session:
                    from sqlalchemy import text

                    return (
                        await session.execute(
                            text("SELECT count(*) FROM payments.intents WHERE status = 'succeeded'")
                        )
                    ).scalar_one()

            async with serve(app, port), httpx.AsyncClient(timeout=30) as http:
                calls = [lambda r=r: sandbox.decide(r, approve=True) for r in sandbox_refs] + [
                    lambda o=o: selcom._post_webhook(
                        f"{base}/selcom/{TOKEN}", selcom._webhook_body(o), selcom.api_secret
                    )
                    for o in selcom_orders
                ]
                started = time.perf_counter()
                sandbox_s = await _drive(http, calls[:n])
                selcom_s = await _drive(http, calls[n:])
                while await succeeded() < 2 * n and time.perf_counter() - started < 60:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                platform_s = time.perf_counter() - started
                done = await succeeded()
            from nexgate.payments.adapters.sql.ledger import verify_ledger

            async with runtime.database().sessions() as session:
                problems = await verify_ledger(session)
            dsn = runtime.database().libpq_dsn
            raw = await asyncpg.connect(dsn)
            await raw.execute("CREATE TABLE bench_callbacks (id uuid PRIMARY KEY, body text NOT NULL)")
            await raw.close()
            async with serve(_bare_app(dsn)) as bare_url, httpx.AsyncClient(timeout=30) as http:
                body = selcom._webhook_body(selcom_orders[0])
                bare_s = await _drive(http, [lambda: http.post(f"{bare_url}/callback", json=body)] * (2 * n))
        finally:
            await selcom.close()
            await runtime.aclose()
            await delete_redis_prefix(f"{REDIS}/{REDIS_DB}", settings.redis_prefix)
            await drop_database(settings.database_url)
            await drop_database(settings.notifications_database_url)
    platform_rate = 2 * n / platform_s
    bare_rate = 2 * n / bare_s
    return {
        "ratio": round(platform_rate / bare_rate, 4),
        "ratio_definition": (
            "callbacks/s until every intent succeeded (sandbox + signed Selcom, confirmed by status, "
            "applied to the ledger; 16 concurrent) / bare Litestar one-row-insert requests/s (same "
            "client, same concurrency)"
        ),
        "callbacks": 2 * n,
        "intents_succeeded": done,
        "platform_callbacks_per_s": round(platform_rate, 1),
        "bare_requests_per_s": round(bare_rate, 1),
        "platform_seconds": round(platform_s, 2),
        "sandbox_callbacks_per_s": round(n / sandbox_s, 1),
        "selcom_callbacks_per_s": round(n / selcom_s, 1),
        "bare_seconds": round(bare_s, 2),
        "concurrency": CONCURRENCY,
        "invariantHolds": problems == [] and done == 2 * n,
    }


def run() -> dict[str, object]:
    return asyncio.run(_run())


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
