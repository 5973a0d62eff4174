"""The sandbox mobile-money provider: local demos and `just dev` without internet.

It behaves like a real provider seen from our side: a collection or payout is acknowledged
with a reference, and the result arrives later as an HTTP callback to our own callback route
(the same path a real provider's takes), after ``delay_s``; collections are then confirmed
through `query_collection` like Daraja's. Outcomes by the number's last three digits:
``032`` cancelled by the payer, ``001`` insufficient funds, ``999`` waits for
`decide` (the ``/sandbox/attempts/{id}/approve|decline`` routes stand in for the phone);
anything else succeeds. Decisions live in Redis so every process answers the same status.
Refused in production settings (see `sandbox_enabled`).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import msgspec
from redis.asyncio import Redis

from nexgate.kernel.errors import MalformedRequest
from nexgate.kernel.money import Money
from nexgate.payments.adapters.tls import tls_context
from nexgate.payments.ports import (
    CollectionCallback,
    CollectionStatus,
    PayoutAccepted,
    PayoutCallback,
    ProviderOutcome,
)

_FAILURES = {"032": ("1032", "cancelled_by_payer"), "001": ("1", "insufficient_funds")}
_MANUAL = "999"
_TTL_S = 7 * 24 * 3600


class SandboxState(msgspec.Struct):
    kind: str
    msisdn: str
    amount_major: int
    url: str
    outcome: str = "pending"
    code: str = ""
    reason: str = ""


def sandbox_enabled(configured: bool | None, environment: str) -> bool:
    """On when configured so, or by default in development; never in production."""
    enabled = environment == "development" if configured is None else configured
    if enabled and environment == "production":
        raise RuntimeError("the sandbox payment provider is refused in production settings")
    return enabled


class SandboxProvider:
    name = "sandbox"

    def __init__(self, redis: Redis, *, key_prefix: str, delay_s: float = 2.0) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._delay_s = delay_s
        self._tasks: set[asyncio.Task[None]] = set()

    def _key(self, ref: str) -> str:
        return f"{self._prefix}payments:sandbox:{ref}"

    async def _load(self, ref: str) -> SandboxState | None:
        raw = await self._redis.get(self._key(ref))
        return None if raw is None else msgspec.json.decode(raw, type=SandboxState)

    async def _save(self, ref: str, state: SandboxState) -> None:
        await self._redis.set(self._key(ref), msgspec.json.encode(state), ex=_TTL_S)

    def _later(self, ref: str, msisdn: str) -> None:
        suffix = msisdn[-3:]
        if suffix == _MANUAL:
            return
        code, reason = _FAILURES.get(suffix, ("0", ""))

        async def run() -> None:
            await asyncio.sleep(self._delay_s)
            await self.decide(ref, approve=code == "0", code=code, reason=reason)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for every scheduled automatic result (tests and demos)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def decide(self, ref: str, *, approve: bool, code: str = "", reason: str = "") -> bool:
        """Settle ``ref`` once (what the payer's phone would do) and send the callback."""
        state = await self._load(ref)
        if state is None or state.outcome != "pending":
            return False
        state.outcome = "succeeded" if approve else "failed"
        state.code = "0" if approve else (code or "1032")
        state.reason = "" if approve else (reason or "cancelled_by_payer")
        await self._save(ref, state)
        body = {
            "reference": ref,
            "kind": state.kind,
            "status": state.outcome,
            "code": state.code,
            "amount": state.amount_major,
            "msisdn": state.msisdn,
        }
        async with httpx.AsyncClient(timeout=10, verify=tls_context()) as client:
            with contextlib.suppress(httpx.HTTPError):
                await client.post(state.url, json=body)
        return True

    # -- collections ------------------------------------------------------------------------

    async def collect(
        self,
        *,
        reference: str,
        msisdn_e164: str,
        amount: Money,
        callback_url: str,
        description: str,
        operator: str | None = None,
    ) -> str:
        ref = f"SBX-C-{reference}"
        msisdn = msisdn_e164.removeprefix("+")
        await self._save(ref, SandboxState("collection", msisdn, amount.to_major_units_whole(), callback_url))
        self._later(ref, msisdn)
        return ref

    async def query_collection(self, provider_ref: str) -> CollectionStatus:
        state = await self._load(provider_ref)
        if state is None or state.outcome == "pending":
            return CollectionStatus(ProviderOutcome.PENDING)
        if state.outcome == "succeeded":
            return CollectionStatus(ProviderOutcome.SUCCEEDED, code="0")
        return CollectionStatus(ProviderOutcome.FAILED, code=state.code, reason=state.reason)

    @staticmethod
    def _parse(body: object) -> dict[str, Any]:
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("reference"), str)
            or body.get("status") not in ("succeeded", "failed")
        ):
            raise MalformedRequest("Not a sandbox callback.")
        return body

    def parse_collection_callback(self, body: object) -> CollectionCallback:
        parsed = self._parse(body)
        amount = parsed.get("amount")
        return CollectionCallback(
            provider_ref=parsed["reference"],
            outcome=ProviderOutcome(parsed["status"]),
            code=str(parsed.get("code", "")),
            amount_major=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
            receipt=f"R{parsed['reference'][-10:]}",
            msisdn=str(parsed["msisdn"]) if parsed.get("msisdn") is not None else None,
        )

    # -- payouts ------------------------------------------------------------------------------

    async def disburse(
        self, *, reference: str, msisdn_e164: str, amount: Money, result_url: str, timeout_url: str
    ) -> PayoutAccepted:
        msisdn = msisdn_e164.removeprefix("+")
        await self._save(reference, SandboxState("payout", msisdn, amount.to_major_units_whole(), result_url))
        self._later(reference, msisdn)
        return PayoutAccepted(provider_ref=f"SBX-P-{reference[-12:]}")

    def parse_payout_callback(self, body: object) -> PayoutCallback:
        parsed = self._parse(body)
        amount = parsed.get("amount")
        return PayoutCallback(
            reference=parsed["reference"],
            provider_ref=f"SBX-P-{parsed['reference'][-12:]}",
            outcome=ProviderOutcome(parsed["status"]),
            code=str(parsed.get("code", "")),
            amount_major=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
            receipt=f"P{parsed['reference'][-10:]}",
        )
