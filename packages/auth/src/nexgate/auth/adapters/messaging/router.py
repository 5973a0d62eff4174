"""The development code deliverer: lets `just dev` users sign up with no SMS or email gateway.

In production the notifications context delivers ``auth.otp_requested.v1``; until it exists,
and on a laptop, this consumer decrypts each code and appends it to a file under the data
directory. It never writes the code to the logs, and it refuses to run in production.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from faststream.rabbit import RabbitRouter
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.auth.adapters.crypto.secrets import AesGcmCodeCipher
from nexgate.auth.adapters.sql.models import tables
from nexgate.auth.settings import AuthSettings
from nexgate.contracts.auth import OtpRequested
from nexgate.kernel.messaging.consumer import consumer
from nexgate.kernel.runtime import Runtime


def dev_codes_file(runtime: Runtime) -> Path:
    return runtime.settings.data_dir / "dev-outbox" / "codes.log"


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(line)


def build_router(runtime: Runtime) -> RabbitRouter:
    router = RabbitRouter()
    settings = AuthSettings()
    environment = runtime.settings.environment
    enabled = settings.dev_code_delivery
    if enabled and environment == "production":
        raise RuntimeError("NEXGATE_AUTH_DEV_CODE_DELIVERY writes codes to a file: refused in production")
    if not (enabled if enabled is not None else environment == "development"):
        return router
    keys, active = settings.delivery_keys()
    cipher = AesGcmCodeCipher(keys, active)
    codes = dev_codes_file(runtime)

    @consumer(
        router, runtime.consumer_wiring("auth", tables), name="dev_deliver_codes", include_in_schema=False
    )
    async def dev_deliver_codes(message: OtpRequested, session: AsyncSession) -> None:
        """Development only: append the decrypted code to var/dev-outbox/codes.log."""
        code = cipher.decrypt(message.key_id, message.code_ciphertext, message.challenge_id)
        when = message.occurred_at.isoformat()
        fields = (when, message.purpose, message.channel, message.destination, code)
        await asyncio.to_thread(_append, codes, " ".join(fields) + "\n")

    return router
