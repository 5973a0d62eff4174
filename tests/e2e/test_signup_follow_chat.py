"""End to end across contexts, over HTTP and the real broker.

Two people sign up with their phones (auth), get profiles from the registration message
(profiles), one follows the other, and a direct message arrives as a message request (chat)
that the other accepts. Codes are read the way notifications will read them: from the
encrypted ``auth.otp_requested.v1`` on RabbitMQ.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import aio_pika
import msgspec
import pytest

from nexgate.auth.adapters.crypto.secrets import AesGcmCodeCipher
from nexgate.auth.settings import AuthSettings
from nexgate.contracts.auth import OtpRequested
from nexgate.kernel.contexts import available_contexts
from nexgate.worker.app import Worker, build_worker

AUTH = "/api/v1/auth"


@pytest.fixture
async def worker(settings, runtime) -> AsyncIterator[Worker]:
    """Every installed context's consumers, relay and scheduler, on the real broker."""
    worker = build_worker(settings, runtime=runtime, contexts=list(available_contexts().values()))
    await worker.broker.start()
    await worker.start_background()
    yield worker
    await worker.stop()


@pytest.fixture
async def codes(settings, runtime, worker) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """A listener on the auth exchange for one-time codes, as notifications will have."""
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


async def sign_up(client, codes, *, phone: str, name: str, username: str) -> dict[str, str]:
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
    return {"id": body["account"]["id"], "Authorization": f"Bearer {body['accessToken']}"}


async def test_two_people_sign_up_follow_and_message(client, codes) -> None:
    asha = await sign_up(client, codes, phone="0712 345 678", name="Asha", username="asha_tz")
    juma = await sign_up(client, codes, phone="+255 754 321 987", name="Juma", username="juma_dsm")
    as_asha = {"Authorization": asha["Authorization"]}
    as_juma = {"Authorization": juma["Authorization"]}

    # Profiles were built from auth.user_registered.v1 (the requested usernames prove it).
    async def asha_profile():
        found = await client.get("/api/v1/profiles/by-username/asha_tz", headers=as_juma)
        return found.json() if found.status_code == 200 else None

    profile = await eventually(asha_profile)
    assert profile["displayName"] == "Asha"
    assert profile["userId"] == asha["id"]
    assert profile["phoneVerified"] is True

    followed = await client.post(f"/api/v1/profiles/{asha['id']}/follow", headers=as_juma)
    assert followed.status_code == 200, followed.text
    after = (await client.get(f"/api/v1/profiles/{asha['id']}", headers=as_juma)).json()
    assert after["followersCount"] == 1

    opened = await client.post(
        "/api/v1/chat/conversations", json={"participantIds": [asha["id"]]}, headers=as_juma
    )
    assert opened.status_code == 201, opened.text
    conversation = opened.json()["id"]
    sent = await client.post(
        f"/api/v1/chat/conversations/{conversation}/messages",
        json={"clientMessageId": "m-1", "text": "Habari! Is the dress still available?"},
        headers=as_juma,
    )
    assert sent.status_code == 201, sent.text
    inbox = (await client.get(f"/api/v1/chat/conversations/{conversation}", headers=as_asha)).json()
    assert (inbox["requestState"], inbox["unreadCount"]) == ("pending", 1)
    accepted = await client.post(f"/api/v1/chat/conversations/{conversation}/accept", headers=as_asha)
    assert accepted.status_code == 200, accepted.text
    messages = (
        await client.get(f"/api/v1/chat/conversations/{conversation}/messages", headers=as_asha)
    ).json()
    assert [m["text"] for m in messages["items"]] == ["Habari! Is the dress still available?"]

    # A stranger sees none of it.
    stranger = {
        "Authorization": (await sign_up(client, codes, phone="0765 111 222", name="X", username="xx_x"))[
            "Authorization"
        ]
    }
    assert (
        await client.get(f"/api/v1/chat/conversations/{conversation}", headers=stranger)
    ).status_code == 404
