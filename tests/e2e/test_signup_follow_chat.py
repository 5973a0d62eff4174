"""End to end across contexts, over HTTP and the real broker.

Two people sign up with their phones (auth), get profiles from the registration message
(profiles), one follows the other, and a direct message arrives as a message request (chat)
that the other accepts. Codes are read the way notifications will read them: from the
encrypted ``auth.otp_requested.v1`` on RabbitMQ.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from nexgate.kernel.contexts import available_contexts
from nexgate.worker.app import Worker, build_worker


@pytest.fixture
async def worker(settings, runtime) -> AsyncIterator[Worker]:
    """Every installed context's consumers, relay and scheduler, on the real broker."""
    worker = build_worker(settings, runtime=runtime, contexts=list(available_contexts().values()))
    await worker.broker.start()
    await worker.start_background()
    yield worker
    await worker.stop()


async def test_two_people_sign_up_follow_and_message(client, sign_up, eventually) -> None:
    asha_id, as_asha = await sign_up(phone="0712 345 678", name="Asha", username="asha_tz")
    _, as_juma = await sign_up(phone="+255 754 321 987", name="Juma", username="juma_dsm")

    # Profiles were built from auth.user_registered.v1 (the requested usernames prove it).
    async def asha_profile():
        found = await client.get("/api/v1/profiles/by-username/asha_tz", headers=as_juma)
        return found.json() if found.status_code == 200 else None

    profile = await eventually(asha_profile)
    assert profile["displayName"] == "Asha"
    assert profile["userId"] == asha_id
    assert profile["phoneVerified"] is True

    followed = await client.post(f"/api/v1/profiles/{asha_id}/follow", headers=as_juma)
    assert followed.status_code == 200, followed.text
    after = (await client.get(f"/api/v1/profiles/{asha_id}", headers=as_juma)).json()
    assert after["followersCount"] == 1

    opened = await client.post(
        "/api/v1/chat/conversations", json={"participantIds": [asha_id]}, headers=as_juma
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
    _, stranger = await sign_up(phone="0765 111 222", name="X", username="xx_x")
    assert (
        await client.get(f"/api/v1/chat/conversations/{conversation}", headers=stranger)
    ).status_code == 404
