"""``Idempotency-Key`` on the composed api, through the skeleton's POST /notes (opt idempotent)."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from nexgate.kernel.http.problems import PROBLEM_MEDIA_TYPE

NOTES = "/api/v1/skeleton/notes"
REPLAYED = "idempotent-replayed"


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    return body


async def my_notes(client, headers: dict[str, str]) -> list[dict]:
    listed = await client.get(NOTES, headers=headers)
    assert listed.status_code == 200, listed.text
    return listed.json()["items"]


async def test_same_key_and_body_replays_the_first_response(client, bearer) -> None:
    me = {**bearer(), "Idempotency-Key": "order-1"}
    first = await client.post(NOTES, json={"text": "once"}, headers=me)
    second = await client.post(NOTES, json={"text": "once"}, headers=me)

    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers
    assert second.status_code == 201, second.text
    assert second.headers[REPLAYED] == "true"
    assert second.json() == first.json()
    assert second.headers["content-type"] == first.headers["content-type"]
    # The replay gets this request's id, not the stored one.
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert [n["id"] for n in await my_notes(client, me)] == [first.json()["id"]]


async def test_same_key_with_another_body_is_422(client, bearer) -> None:
    me = {**bearer(), "Idempotency-Key": "order-2"}
    first = await client.post(NOTES, json={"text": "one"}, headers=me)
    assert first.status_code == 201, first.text

    reused = await client.post(NOTES, json={"text": "two"}, headers=me)
    assert_problem(reused, 422, "idempotency_key_reused")
    assert REPLAYED not in reused.headers
    assert [n["text"] for n in await my_notes(client, me)] == ["one"]


async def test_the_key_is_scoped_to_the_caller(client, bearer) -> None:
    alice = {**bearer(), "Idempotency-Key": "shared"}
    bob = {**bearer(), "Idempotency-Key": "shared"}
    hers = await client.post(NOTES, json={"text": "same"}, headers=alice)
    his = await client.post(NOTES, json={"text": "same"}, headers=bob)

    assert hers.status_code == 201, hers.text
    assert his.status_code == 201, his.text
    assert REPLAYED not in his.headers
    assert his.json()["id"] != hers.json()["id"]
    assert [n["id"] for n in await my_notes(client, alice)] == [hers.json()["id"]]
    assert [n["id"] for n in await my_notes(client, bob)] == [his.json()["id"]]


async def test_the_same_user_with_a_fresh_session_still_replays(client, bearer) -> None:
    user = uuid.uuid4()
    first = await client.post(NOTES, json={"text": "x"}, headers={**bearer(user), "Idempotency-Key": "k"})
    again = await client.post(NOTES, json={"text": "x"}, headers={**bearer(user), "Idempotency-Key": "k"})
    assert first.status_code == again.status_code == 201
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first.json()


async def test_a_rejected_request_does_not_keep_the_key(client, bearer) -> None:
    me = {**bearer(), "Idempotency-Key": "fix-and-retry"}
    rejected = await client.post(NOTES, json={"text": "   "}, headers=me)
    assert_problem(rejected, 422, "invalid_note")
    assert await my_notes(client, me) == []

    fixed = await client.post(NOTES, json={"text": "now valid"}, headers=me)
    assert fixed.status_code == 201, fixed.text
    assert REPLAYED not in fixed.headers
    assert [n["id"] for n in await my_notes(client, me)] == [fixed.json()["id"]]


async def test_an_unauthenticated_request_does_not_keep_the_key(client, bearer) -> None:
    anonymous = await client.post(NOTES, json={"text": "hi"}, headers={"Idempotency-Key": "k1"})
    assert_problem(anonymous, 401, "not_authenticated")
    me = {**bearer(), "Idempotency-Key": "k1"}
    created = await client.post(NOTES, json={"text": "hi"}, headers=me)
    assert created.status_code == 201, created.text
    assert REPLAYED not in created.headers


async def test_concurrent_retries_do_the_work_once(client, bearer) -> None:
    """Ten requests with one key, really in flight together: one note, never two.

    `AsyncTestClient` runs the app on its own event loop in another thread and
    blocks the test's loop for each request, so ``asyncio.gather`` over it would
    send them one after the other. Here the requests are gathered on the app's
    loop itself, through ``httpx.ASGITransport``.
    """
    me = {**bearer(), "Idempotency-Key": "burst"}

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as raw:
            requests = [raw.post(NOTES, json={"text": "burst"}, headers=me) for _ in range(10)]
            return await asyncio.gather(*requests)

    responses = client.blocking_portal.call(burst)

    statuses = sorted(r.status_code for r in responses)
    created = [r for r in responses if r.status_code == 201]
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    assert created, statuses
    # Exactly one of them did the work; any other 201 is a replay of it.
    assert len({r.json()["id"] for r in created}) == 1
    assert sum(REPLAYED not in r.headers for r in created) == 1
    for r in responses:
        if r.status_code == 409:
            assert_problem(r, 409, "idempotency_request_in_progress")
    # They really overlapped: at least one found the first still running.
    assert 409 in statuses, statuses

    notes = await my_notes(client, me)
    assert [n["id"] for n in notes] == [created[0].json()["id"]]
    # Once the first has finished, a retry is a replay.
    retry = await client.post(NOTES, json={"text": "burst"}, headers=me)
    assert retry.status_code == 201
    assert retry.headers[REPLAYED] == "true"
    assert retry.json()["id"] == created[0].json()["id"]


async def test_invalid_keys_are_400(client, bearer) -> None:
    me = bearer()
    for key in ("   ", "k" * 256):
        response = await client.post(NOTES, json={"text": "hi"}, headers={**me, "Idempotency-Key": key})
        assert_problem(response, 400, "malformed_request")
    assert await my_notes(client, me) == []
    # 255 characters is still fine.
    longest = await client.post(NOTES, json={"text": "hi"}, headers={**me, "Idempotency-Key": "k" * 255})
    assert longest.status_code == 201, longest.text


async def test_routes_not_marked_idempotent_ignore_the_header(client, bearer) -> None:
    auth = bearer()
    keyed = {**auth, "Idempotency-Key": "list"}
    before = await client.get(NOTES, headers=keyed)
    assert before.status_code == 200
    assert before.json()["items"] == []
    mine = await client.post(NOTES, json={"text": "mine"}, headers=auth)
    assert mine.status_code == 201
    # The same key on the GET again: answered afresh, not replayed.
    after = await client.get(NOTES, headers=keyed)
    assert after.status_code == 200
    assert REPLAYED not in after.headers
    assert [n["id"] for n in after.json()["items"]] == [mine.json()["id"]]
    # Not even validated there.
    odd = await client.get(NOTES, headers={**auth, "Idempotency-Key": "k" * 300})
    assert odd.status_code == 200


async def test_a_key_without_the_header_is_not_idempotent(client, bearer) -> None:
    me = bearer()
    first = await client.post(NOTES, json={"text": "a"}, headers=me)
    second = await client.post(NOTES, json={"text": "a"}, headers=me)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert len(await my_notes(client, me)) == 2
