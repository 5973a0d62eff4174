"""End to end over HTTP and the real broker: two people sign up (auth), get profiles from the
registration message (profiles), one asks to follow the other's private account, the owner
approves, then blocks. Codes are read as notifications will read them: from the encrypted
``auth.otp_requested.v1`` on RabbitMQ.
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
from nexgate.worker.app import Worker, build_worker

AUTH = "/api/v1/auth"
P = "/api/v1/profiles"
HOSTED = ("auth", "profiles", "files")


@pytest.fixture
async def client(settings, contexts) -> AsyncIterator[Any]:
    """The api hosting auth, profiles and files (what this journey touches)."""
    from litestar.testing import AsyncTestClient

    from nexgate.api.asgi import create_app

    app = create_app(settings, contexts=[contexts[name] for name in HOSTED])
    async with AsyncTestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
async def worker(settings, runtime, contexts) -> AsyncIterator[Worker]:
    worker = build_worker(settings, runtime=runtime, contexts=[contexts[name] for name in HOSTED])
    await worker.broker.start()
    await worker.start_background()
    yield worker
    await worker.stop()


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


async def eventually(probe, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        found = await probe()
        if found:
            return found
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.1)


async def sign_up(client, codes, *, phone: str, name: str, username: str) -> tuple[str, dict[str, str]]:
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

    code = await eventually(my_code)
    device = {"deviceId": f"phone-{uuid.uuid4().hex}", "platform": "android"}
    verified = await client.post(
        f"{AUTH}/registrations/{challenge_id}/verify", json={"code": code, "device": device}
    )
    assert verified.status_code == 201, verified.text
    body = verified.json()
    return body["account"]["id"], {"Authorization": f"Bearer {body['accessToken']}"}


async def test_private_account_follow_approve_then_block(client, codes) -> None:
    asha, as_asha = await sign_up(client, codes, phone="0712 345 678", name="Asha", username="asha_tz")
    juma, as_juma = await sign_up(client, codes, phone="+255 754 321 987", name="Juma", username="juma_dsm")

    async def profile_of(username: str, headers: dict[str, str]):
        found = await client.get(f"{P}/by-username/{username}", headers=headers)
        return found.json() if found.status_code == 200 else None

    # Built from auth.user_registered.v1: the requested username, the verified phone, its trust.
    seen = await eventually(lambda: profile_of("asha_tz", as_juma))
    assert (seen["userId"], seen["displayName"], seen["phoneVerified"]) == (asha, "Asha", True)
    assert seen["trustScore"] == 15
    await eventually(lambda: profile_of("juma_dsm", as_asha))

    private = await client.patch(f"{P}/me/settings/privacy", json={"isPrivate": True}, headers=as_asha)
    assert private.status_code == 200, private.text

    # Juma asks; until Asha approves he sees her header but not her lists.
    asked = await client.post(f"{P}/{asha}/follow", headers=as_juma)
    assert asked.json() == {"state": "requested"}
    assert (await client.get(f"{P}/{asha}", headers=as_juma)).json()["relationship"]["requested"] is True
    hidden = await client.get(f"{P}/{asha}/followers", headers=as_juma)
    assert (hidden.status_code, hidden.json()["code"]) == (403, "private_account")
    incoming = (await client.get(f"{P}/me/follow-requests", headers=as_asha)).json()["items"]
    assert [i["userId"] for i in incoming] == [juma]
    # Juma cannot approve his own request (it is not addressed to him).
    own = await client.post(f"{P}/me/follow-requests/{juma}/approve", headers=as_juma)
    assert own.status_code == 404

    approved = await client.post(f"{P}/me/follow-requests/{juma}/approve", headers=as_asha)
    assert approved.status_code == 204, approved.text
    followers = (await client.get(f"{P}/{asha}/followers", headers=as_juma)).json()["items"]
    assert [i["userId"] for i in followers] == [juma]
    assert (await client.get(f"{P}/{asha}", headers=as_juma)).json()["followersCount"] == 1
    assert (await client.get(f"{P}/{juma}", headers=as_asha)).json()["relationship"]["followedBy"] is True

    # Asha blocks Juma: the follow is gone both ways, and they vanish from each other.
    assert (await client.post(f"{P}/{juma}/block", headers=as_asha)).status_code == 204
    assert (await client.get(f"{P}/{asha}", headers=as_juma)).status_code == 404
    assert (await client.get(f"{P}/{asha}/followers", headers=as_juma)).status_code == 404
    assert (await client.post(f"{P}/{asha}/follow", headers=as_juma)).status_code == 404
    assert (await client.get(f"{P}/{juma}/following", headers=as_juma)).json()["items"] == []
    search = await client.get(f"{P}/search", params={"q": "asha"}, headers=as_juma)
    assert search.json()["items"] == []
    # Asha still sees a stub of Juma so she can unblock; her counts are exact.
    stub = (await client.get(f"{P}/{juma}", headers=as_asha)).json()
    assert (stub["username"], stub["relationship"]["blocking"]) == ("juma_dsm", True)
    assert "displayName" not in stub
    me = (await client.get(f"{P}/me", headers=as_asha)).json()
    assert (me["followersCount"], me["followingCount"]) == (0, 0)
    assert [i["userId"] for i in (await client.get(f"{P}/me/blocks", headers=as_asha)).json()["items"]] == [
        juma
    ]
