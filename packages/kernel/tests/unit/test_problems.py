"""Every error type renders as RFC 9457 problem+json with its status and stable code."""

from __future__ import annotations

import pytest
from litestar import Litestar, get
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.testing import TestClient

from nexgate.kernel.errors import (
    Conflict,
    FieldProblem,
    Forbidden,
    MalformedRequest,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    ValidationFailed,
)
from nexgate.kernel.http.problems import PROBLEM_MEDIA_TYPE, exception_handlers

CASES = [
    (NotFound("gone", code="order_not_found"), 404, "order_not_found"),
    (Conflict("taken"), 409, "conflict"),
    (Forbidden(), 403, "forbidden"),
    (NotAuthenticated(code="token_expired"), 401, "token_expired"),
    (ValidationFailed(errors=[FieldProblem("items[0].qty", "must be positive")]), 422, "validation_failed"),
    (MalformedRequest(), 400, "malformed_request"),
    (PayloadTooLarge(), 413, "payload_too_large"),
    (RateLimited(retry_after=7), 429, "rate_limited"),
    (ServiceUnavailable(), 503, "service_unavailable"),
    (NotAuthorizedException(), 401, "not_authenticated"),
    (PermissionDeniedException(), 403, "forbidden"),
    (RuntimeError("secret stack detail"), 500, "internal_error"),
    (ConnectionRefusedError("db down"), 503, "service_unavailable"),
]


@pytest.mark.parametrize(("error", "status", "code"), CASES, ids=[c[2] + str(c[1]) for c in CASES])
def test_each_error_renders_as_a_problem(error: Exception, status: int, code: str) -> None:
    @get("/boom")
    async def boom() -> None:
        raise error

    with TestClient(Litestar([boom], exception_handlers=exception_handlers())) as client:
        response = client.get("/boom")
    assert response.status_code == status
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:nexgate:problem:{code}"
    assert body["instance"] == "/boom"
    assert "secret stack detail" not in response.text
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    if status == 429:
        assert response.headers["retry-after"] == "7"
    if code == "validation_failed":
        assert body["errors"] == [{"path": "items[0].qty", "message": "must be positive"}]
