"""End to end over HTTP and the real broker: two people sign up (auth), get profiles from the
registration message (profiles), one asks to follow the other's private account, the owner
approves, then blocks. Codes are read as notifications will read them: from the encrypted
``auth.otp_requested.v1`` on RabbitMQ.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from nexgate.worker.app import Worker, build_worker

P = "/api/v1/profiles"
HOSTED = ("auth", "profiles", "files")


@pytest.fixture
async def worker(settings, runtime, contexts) -> AsyncIterator[Worker]:
    worker = build_worker(settings, runtime=runtime, contexts=[contexts[name] for name in HOSTED])
    await worker.broker.start()
    await worker.start_background()
    yield worker
    await worker.stop()


async def test_private_account_follow_approve_then_block(client, sign_up, eventually) -> None:
    asha, as_asha = await sign_up(phone="0712 345 678", name="Asha", username="asha_tz")
    juma, as_juma = await sign_up(phone="+255 754 321 987", name="Juma", username="juma_dsm")

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
