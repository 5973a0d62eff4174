"""The composed api's edge: problem+json for bad input, auth, pagination, health."""

from __future__ import annotations

import uuid

import pytest

from nexgate.kernel.http.problems import PROBLEM_MEDIA_TYPE

NOTES = "/api/v1/skeleton/notes"


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:nexgate:problem:{code}"
    assert body["requestId"] == response.headers["x-request-id"]
    return body


async def test_write_and_read_a_note(client, bearer) -> None:
    me = bearer()
    created = await client.post(NOTES, json={"text": "  Habari  "}, headers=me)
    assert created.status_code == 201, created.text
    note = created.json()
    assert note["text"] == "Habari"
    assert set(note) == {"id", "text", "createdAt", "deliveries"}
    assert uuid.UUID(note["id"]).version == 7
    fetched = await client.get(f"{NOTES}/{note['id']}", headers=me)
    assert fetched.json() == note


async def test_another_user_gets_404_for_my_note(client, bearer) -> None:
    owner, stranger = bearer(), bearer()
    note = (await client.post(NOTES, json={"text": "mine"}, headers=owner)).json()
    response = await client.get(f"{NOTES}/{note['id']}", headers=stranger)
    assert_problem(response, 404, "note_not_found")
    missing = await client.get(f"{NOTES}/{uuid.uuid4()}", headers=owner)
    # Indistinguishable from a note that does not exist.
    assert missing.json()["detail"] == response.json()["detail"]
    listed = await client.get(NOTES, headers=stranger)
    assert listed.json() == {"items": [], "nextCursor": None}


@pytest.mark.parametrize(
    ("body", "status", "code", "path"),
    [
        (b"{", 400, "malformed_request", None),
        (b'{"text": 5}', 422, "validation_failed", "text"),
        (b'{"text": "hi", "deliveries": 99}', 422, "validation_failed", "deliveries"),
        (b"{}", 422, "validation_failed", "text"),
        (b'{"text": "   "}', 422, "invalid_note", "text"),
        (b'{"text": "' + b"x" * 501 + b'"}', 422, "invalid_note", "text"),
    ],
)
async def test_bad_bodies_are_problems_with_field_paths(client, bearer, body, status, code, path) -> None:
    response = await client.post(
        NOTES, content=body, headers={**bearer(), "content-type": "application/json"}
    )
    problem = assert_problem(response, status, code)
    if path is not None:
        assert [e["path"] for e in problem["errors"]] == [path]
    assert (await client.get(NOTES, headers=bearer())).json()["items"] == []


async def test_oversized_body_is_413(client, bearer, settings) -> None:
    body = b'{"text": "' + b"x" * settings.max_body_bytes + b'"}'
    response = await client.post(
        NOTES, content=body, headers={**bearer(), "content-type": "application/json"}
    )
    assert_problem(response, 413, "payload_too_large")


async def test_wrong_query_type_and_limit_are_422(client, bearer) -> None:
    me = bearer()
    problem = assert_problem(await client.get(f"{NOTES}?limit=abc", headers=me), 422, "validation_failed")
    assert problem["errors"][0]["path"] == "limit"
    assert_problem(await client.get(f"{NOTES}?limit=101", headers=me), 422, "invalid_limit")
    assert_problem(await client.get(f"{NOTES}?limit=0", headers=me), 422, "invalid_limit")


async def test_unknown_route_and_method(client) -> None:
    assert_problem(await client.get("/api/v1/nowhere"), 404, "not_found")
    assert_problem(await client.delete("/health/live"), 405, "method_not_allowed")


async def test_missing_or_bad_token_is_401_with_challenge(client) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic dXNlcjpwYXNz"}):
        response = await client.get(NOTES, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)


async def test_cursor_pagination_walks_every_note_once(client, bearer) -> None:
    me = bearer()
    written = [(await client.post(NOTES, json={"text": f"n{i}"}, headers=me)).json()["id"] for i in range(7)]
    seen, cursor = [], None
    while True:
        query = f"?limit=3&cursor={cursor}" if cursor else "?limit=3"
        page = (await client.get(NOTES + query, headers=me)).json()
        seen += [n["id"] for n in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == list(reversed(written))


async def test_tampered_cursor_is_rejected(client, bearer) -> None:
    me = bearer()
    for i in range(3):
        await client.post(NOTES, json={"text": f"n{i}"}, headers=me)
    cursor = (await client.get(f"{NOTES}?limit=1", headers=me)).json()["nextCursor"]
    tampered = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    problem = assert_problem(
        await client.get(f"{NOTES}?cursor={tampered}", headers=me), 422, "invalid_cursor"
    )
    assert problem["errors"][0]["path"] == "cursor"


async def test_request_id_is_echoed_or_made(client) -> None:
    given = await client.get("/health/live", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = await client.get("/health/live", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"


async def test_ready_when_everything_is_up(client) -> None:
    response = await client.get("/health/ready")
    # The api in this test does not connect its broker (no lifespan worker), so RabbitMQ is
    # checked by tests/integration/test_health.py.
    assert response.json()["checks"]["postgres"] == "ok"
    assert response.json()["checks"]["redis"] == "ok"


async def test_docs_render_from_local_assets(client) -> None:
    page = await client.get("/schema/swagger")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert "unpkg" not in page.text.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
        assert f"/schema/assets/{asset}" in page.text
        served = await client.get(f"/schema/assets/{asset}")
        assert served.status_code == 200
        assert len(served.content) > 10_000
    spec = (await client.get("/schema/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    assert NOTES in spec["paths"] or NOTES + "/" in spec["paths"]
    asyncapi = (await client.get("/docs/asyncapi.json")).json()
    assert asyncapi["asyncapi"] == "3.0.0"
    page = await client.get("/docs/asyncapi")
    assert "/schema/assets/asyncapi-web-component.js" in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # nothing fetched from elsewhere
    assert (await client.get("/schema/assets/asyncapi-web-component.js")).status_code == 200
    # The bundled web component renders AsyncAPI 2.x; the page reads the 2.6 form.
    assert (await client.get("/docs/asyncapi-2.6.json")).json()["asyncapi"] == "2.6.0"
