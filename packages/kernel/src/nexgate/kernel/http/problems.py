"""RFC 9457 problem+json rendering for every error the API can raise.

One mapping for the whole platform: domain errors carry their own status and
stable ``code``; Litestar's own exceptions and infrastructure failures are
translated here so that a client never sees a stack trace or a bare 500 for an
expected failure.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.types import ExceptionHandlersMap

from nexgate.kernel.errors import DomainError, FieldProblem, NotAuthenticated, RateLimited
from nexgate.kernel.http.requests import request_id_of

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = structlog.get_logger("nexgate.http")

_STATUS_CODES = {
    400: ("malformed_request", "Malformed request"),
    401: ("not_authenticated", "Not authenticated"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_failed", "Validation failed"),
    429: ("rate_limited", "Too many requests"),
    503: ("service_unavailable", "Service unavailable"),
}
_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")
_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")


class Problem(msgspec.Struct, omit_defaults=True, rename="camel"):
    """The problem document; ``code`` is stable, ``detail`` is for humans."""

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[dict[str, str]] | None = None
    extra: dict[str, Any] | None = None


def problem_response(
    request: Request[Any, Any, Any],
    *,
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    errors: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Problem]:
    body = Problem(
        type=f"urn:nexgate:problem:{code}",
        title=title,
        status=status,
        code=code,
        detail=detail,
        instance=request.scope.get("path"),
        request_id=request_id_of(request.scope),
        errors=errors,
        extra=extra or None,
    )
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _field_errors(problems: list[FieldProblem]) -> list[dict[str, str]]:
    return [{"path": p.path, "message": p.message} for p in problems]


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Problem]:
    headers: dict[str, str] = {}
    if isinstance(exc, NotAuthenticated):
        headers["WWW-Authenticate"] = f'Bearer error="invalid_token", error_description="{exc.code}"'
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        errors=_field_errors(getattr(exc, "errors", [])) or None,
        extra=exc.extra,
        headers=headers or None,
    )


def _validation_errors(extra: Any) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    for item in extra if isinstance(extra, list) else []:
        message = str(item.get("message", "invalid value"))
        path = str(item.get("key", ""))
        if path == "data":  # whole-body problems: name the field from msgspec's message
            found = _MISSING_FIELD.search(message) or _UNKNOWN_FIELD.search(message)
            path = found.group(1) if found else ""
        entry = {"path": path, "message": message}
        if "source" in item:
            entry["source"] = str(item["source"])
        errors.append(entry)
    return errors


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    status = exc.status_code
    if isinstance(exc, ValidationException) and exc.extra:
        # Litestar raises 400 for values that decoded but did not validate; those are 422.
        return problem_response(
            request,
            status=422,
            code="validation_failed",
            title="Validation failed",
            detail="The request has invalid fields.",
            errors=_validation_errors(exc.extra),
        )
    code, title = _STATUS_CODES.get(status, ("http_error", "HTTP error"))
    headers = dict(exc.headers or {})
    if isinstance(exc, NotAuthorizedException):
        headers.setdefault("WWW-Authenticate", "Bearer")
    if isinstance(exc, PermissionDeniedException):
        code, title = "forbidden", "Forbidden"
    if status >= 500:
        log.error("http.server_error", status=status, detail=exc.detail)
        return problem_response(request, status=status, code="internal_error", title="Internal error")
    return problem_response(
        request, status=status, code=code, title=title, detail=exc.detail, headers=headers or None
    )


def _is_unavailable(exc: BaseException) -> bool:
    """True when the failure is a backing service being down, not a bug."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(
        exc, OperationalError | InterfaceError | RedisConnectionError | ConnectionError | TimeoutError
    ):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return exc.__cause__ is not None and _is_unavailable(exc.__cause__)


def unhandled_exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    if _is_unavailable(exc):
        log.warning("http.dependency_unavailable", error=repr(exc))
        return problem_response(
            request,
            status=503,
            code="service_unavailable",
            title="Service unavailable",
            detail="A backing service is unavailable; retry later.",
            headers={"Retry-After": "5"},
        )
    log.exception("http.unhandled_exception", exc_info=exc)
    return problem_response(request, status=500, code="internal_error", title="Internal error")


def exception_handlers() -> ExceptionHandlersMap:
    return {
        DomainError: domain_error_handler,
        HTTPException: http_exception_handler,
        Exception: unhandled_exception_handler,
    }
