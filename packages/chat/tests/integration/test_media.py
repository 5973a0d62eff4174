"""Attachments through the files context's facade (real files context, filesystem storage)."""

from __future__ import annotations

import io
import subprocess
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from nexgate.chat.adapters.sql.models import message_media
from nexgate.contracts.files import MediaReady

from .conftest import C

pytestmark = pytest.mark.timeout(180)


def png(width: int = 320, height: int = 200) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 90)).save(out, "PNG")
    return out.getvalue()


async def upload_image(chat) -> str:
    response = await chat.client.post(
        "/api/v1/files",
        files={"file": ("photo.png", png(), "image/png")},
        data={"purpose": "chat_attachment"},
        headers=chat.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def file_refs(chat, file_id: str) -> dict:
    return (await chat.client.get(f"/api/v1/files/{file_id}", headers=chat.headers)).json()


async def test_media_message_via_files_and_signed_url_for_members_only(user) -> None:
    alice, bob, mallory = user(), user(), user()
    conversation_id = await alice.accepted_with(bob)
    file_id = await upload_image(alice)
    sent = await alice.send(conversation_id, None, mediaFileIds=[file_id])
    assert sent.status_code == 201, sent.text
    media = sent.json()["media"]
    assert [(m["fileId"], m["kind"], m["status"], m["width"]) for m in media] == [
        (file_id, "image", "ready", 320)
    ]
    assert media[0]["blurhash"]
    message_id = sent.json()["id"]

    # Members get a fresh signed URL; it serves the re-encoded image.
    for member in (alice, bob):
        redirect = await member.client.get(
            f"{C}/messages/{message_id}/media/{file_id}", headers=member.headers, follow_redirects=False
        )
        assert redirect.status_code == 302, redirect.text
        served = await member.client.get(redirect.headers["location"])
        assert served.status_code == 200
        assert Image.open(io.BytesIO(served.content)).format == "WEBP"
    small = await bob.client.get(
        f"{C}/messages/{message_id}/media/{file_id}", params={"variant": "thumb"}, headers=bob.headers,
        follow_redirects=False,
    )  # fmt: skip
    assert small.status_code == 302
    assert "/thumb-" in small.headers["location"]
    # Non-members, and files not in the message, get 404.
    assert (await mallory.get(f"/messages/{message_id}/media/{file_id}")).status_code == 404
    other_file = await upload_image(alice)
    assert (await bob.get(f"/messages/{message_id}/media/{other_file}")).status_code == 404

    # Someone else's file, a missing one or a file uploaded for another purpose is refused.
    bobs_file = await upload_image(bob)
    for bad in (bobs_file, str(uuid.uuid4())):
        refused = await alice.send(conversation_id, "look", mediaFileIds=[bad])
        assert (refused.status_code, refused.json()["code"]) == (422, "invalid_attachment")
    avatar = await alice.client.post(
        "/api/v1/files",
        files={"file": ("a.png", png(), "image/png")},
        data={"purpose": "avatar"},
        headers=alice.headers,
    )
    refused = await alice.send(conversation_id, "look", mediaFileIds=[other_file, avatar.json()["id"]])
    assert refused.json()["code"] == "invalid_attachment"
    # The refused send released what it had attached: the file can still be deleted by its owner.
    assert (
        await alice.client.delete(f"/api/v1/files/{other_file}", headers=alice.headers)
    ).status_code == 204
    # A file in a message is in use.
    in_use = await alice.client.delete(f"/api/v1/files/{file_id}", headers=alice.headers)
    assert (in_use.status_code, in_use.json()["code"]) == (409, "file_in_use")


async def test_delete_for_everyone_purges_content_and_detaches_media(user, runtime, messages) -> None:
    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    file_id = await upload_image(alice)
    sent = (await alice.send(conversation_id, "the receipt", mediaFileIds=[file_id])).json()
    await bob.client.put(f"{C}/messages/{sent['id']}/reaction", json={"emoji": "👍"}, headers=bob.headers)

    assert (await alice.client.delete(f"{C}/messages/{sent['id']}", headers=alice.headers)).status_code == 204
    item = (await bob.get(f"/conversations/{conversation_id}/messages")).json()["items"][0]
    assert (item["text"], item["media"], item["reactions"], item["deleted"]) == (None, [], [], True)
    assert item["seq"] == sent["seq"]
    async with runtime.database().sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(message_media)) == 0
    # The media link is gone for members, and files no longer counts the message as a user.
    assert (await bob.get(f"/messages/{sent['id']}/media/{file_id}")).status_code == 404
    assert (await alice.client.delete(f"/api/v1/files/{file_id}", headers=alice.headers)).status_code == 204
    retracted = await messages("chat.message_retracted.v1")
    assert [(r.message_id, r.recipient_ids) for r in retracted] == [(uuid.UUID(sent["id"]), [bob.id])]
    events = (await bob.get("/sync")).json()["events"]
    assert events[-1]["type"] == "message.deleted"
    assert "the receipt" not in str(events[-1])


async def test_processing_video_updates_message_when_ready(
    user, runtime, publish_to_chat, wait_until, tmp_path: Path
) -> None:
    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    clip = tmp_path / "clip.mp4"
    source = "testsrc=duration=1:size=160x120:rate=10"
    subprocess.run(  # noqa: S603
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", source,  # noqa: S607
         "-pix_fmt", "yuv420p", str(clip)],
        check=True,
    )  # fmt: skip
    payload = clip.read_bytes()
    opened = await alice.client.post(
        "/api/v1/files/uploads",
        json={"purpose": "chat_attachment", "contentType": "video/mp4", "sizeBytes": len(payload)},
        headers=alice.headers,
    )
    assert opened.status_code == 201, opened.text
    assert (await alice.client.put(opened.json()["url"], content=payload)).status_code == 204
    done = await alice.client.post(
        f"/api/v1/files/uploads/{opened.json()['uploadId']}/complete", headers=alice.headers
    )
    assert done.json()["status"] == "processing"
    file_id = done.json()["id"]

    sent = await alice.send(conversation_id, "the venue", mediaFileIds=[file_id])
    assert sent.status_code == 201, sent.text
    assert [(m["kind"], m["status"]) for m in sent.json()["media"]] == [("video", "processing")]
    early = await bob.get(f"/messages/{sent.json()['id']}/media/{file_id}")
    assert (early.status_code, early.json()["code"]) == (409, "media_processing")

    # The files worker finishes: the message carries the ready snapshot and members hear of it.
    ready = MediaReady(
        file_id=uuid.UUID(file_id), owner_id=alice.id, purpose="chat_attachment", kind="video",
        visibility="private", mime_type="video/mp4", width=160, height=120, duration_ms=1000,
        blurhash="LKO2?U%2Tw=w",
    )  # fmt: skip
    await publish_to_chat("files", ready)
    await publish_to_chat("files", ready)  # redelivered: a no-op

    async def updated() -> bool:
        events = (await bob.get("/sync")).json()["events"]
        return any(e["type"] == "message.media_updated" for e in events)

    await wait_until(updated)
    events = [e for e in (await bob.get("/sync")).json()["events"] if e["type"] == "message.media_updated"]
    assert len(events) == 1
    media = events[0]["data"]["media"][0]
    assert (media["status"], media["durationMs"], media["width"]) == ("ready", 1000, 160)
    item = (await bob.get(f"/conversations/{conversation_id}/messages")).json()["items"][0]
    assert item["media"][0]["status"] == "ready"
    # Media in a message request is refused.
    carol = user()
    request_id = (await carol.open(alice)).json()["id"]
    refused = await carol.send(request_id, "see", mediaFileIds=[await upload_image(carol)])
    assert (refused.status_code, refused.json()["code"]) == (403, "media_not_allowed_in_request")
