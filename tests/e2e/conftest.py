"""Shared by the end-to-end journeys: a listener for one-time codes on the real broker (as
notifications will read them: the encrypted ``auth.otp_requested.v1``) and a phone sign-up
through auth's HTTP routes. Each test module provides the ``worker`` fixture that hosts the
contexts its journey touches.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import msgspec
import pytest

from nexgate.auth.adapters.crypto.secrets import AesGcmCodeCipher
from nexgate.auth.settings import AuthSettings
from nexgate.contracts.auth import OtpRequested

AUTH = "/api/v1/auth"


@pytest.fixture
async def codes(settings, runtime, worker) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    connection = await aio_pika.connect(settings.rabbitmq_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        runtime.naming.exchange("auth"), aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key=OtpRequested.tag())
    yield queue
    await connection.close()


async def _eventually(probe, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        found = await probe()
        if found:
            return found
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.1)


@pytest.fixture
def eventually():
    """``await eventually(probe)``: the first truthy result of ``probe()``, polled for 20 s."""
    return _eventually


@pytest.fixture
def sign_up(client: Any, codes: Any):
    """``await sign_up(phone=, name=, username=)`` -> (account id, bearer headers)."""

    async def register(*, phone: str, name: str, username: str) -> tuple[str, dict[str, str]]:
        return await _sign_up(client, codes, phone=phone, name=name, username=username)

    return register


async def _sign_up(
    client: Any, codes: Any, *, phone: str, name: str, username: str
) -> tuple[str, dict[str, str]]:
    started = await client.post(
        f"{AUTH}/registrations",
        json={"phone": phone, "password": "mlima kilimanjaro", "displayName": name, "username": username},
    )
    assert started.status_code == 202, started.text
    challenge_id = started.json()["challengeId"]

    async def my_code() -> str | None:
        message = await codes.get(no_ack=True, fail=False)
        if message is None:
            return None
        otp = msgspec.json.decode(message.body, type=OtpRequested)
        assert str(otp.challenge_id) == challenge_id
        keys, active = AuthSettings().delivery_keys()
        return AesGcmCodeCipher(keys, active).decrypt(otp.key_id, otp.code_ciphertext, otp.challenge_id)

    code = await _eventually(my_code)
    device = {"deviceId": f"phone-{uuid.uuid4().hex}", "platform": "android"}
    verified = await client.post(
        f"{AUTH}/registrations/{challenge_id}/verify", json={"code": code, "device": device}
    )
    assert verified.status_code == 201, verified.text
    body = verified.json()
    return body["account"]["id"], {"Authorization": f"Bearer {body['accessToken']}"}
