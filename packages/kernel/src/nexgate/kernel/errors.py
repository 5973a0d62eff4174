"""The domain error hierarchy every context raises.

Pure Python on purpose: domain code raises these, and the HTTP edge
(`nexgate.kernel.http.problems`) maps them to RFC 9457 problem+json responses.
Each error has a stable machine-readable ``code`` clients can switch on; the
human ``detail`` may change between releases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One invalid field: ``path`` is a dotted/indexed path such as ``items[0].quantity``."""

    path: str
    message: str


class DomainError(Exception):
    """Base of every expected, business-level failure."""

    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.code = code or self.default_code
        self.extra = dict(extra or {})
        super().__init__(self.detail)


class NotFound(DomainError):
    status = 404
    default_code = "not_found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    default_code = "conflict"
    title = "Conflict"


class Forbidden(DomainError):
    status = 403
    default_code = "forbidden"
    title = "Forbidden"


class NotAuthenticated(DomainError):
    status = 401
    default_code = "not_authenticated"
    title = "Not authenticated"


class ValidationFailed(DomainError):
    status = 422
    default_code = "validation_failed"
    title = "Validation failed"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        errors: Sequence[FieldProblem] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail, code=code, extra=extra)
        self.errors = list(errors)


class MalformedRequest(DomainError):
    """The request could not be decoded at all (bad JSON, wrong types)."""

    status = 400
    default_code = "malformed_request"
    title = "Malformed request"

    def __init__(self, detail: str | None = None, *, errors: Sequence[FieldProblem] = ()) -> None:
        super().__init__(detail)
        self.errors = list(errors)


class PayloadTooLarge(DomainError):
    status = 413
    default_code = "payload_too_large"
    title = "Payload too large"


class RateLimited(DomainError):
    status = 429
    default_code = "rate_limited"
    title = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(detail, code=code, extra={"retryAfter": retry_after})
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    status = 503
    default_code = "service_unavailable"
    title = "Service unavailable"
