"""The files context's refusals, each with its stable problem+json code."""

from __future__ import annotations

from nexgate.kernel.errors import (
    Conflict,
    DomainError,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    ValidationFailed,
)


class UnsupportedMediaType(DomainError):
    status = 415
    default_code = "unsupported_media_type"
    title = "Unsupported media type"

    def __init__(self, detected_type: str, detail: str | None = None) -> None:
        super().__init__(
            detail or f"Files of type {detected_type} are not accepted here.",
            extra={"detectedType": detected_type},
        )
        self.detected_type = detected_type


def empty_file() -> ValidationFailed:
    return ValidationFailed("The file is empty.", code="empty_file")


def file_too_large(limit_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The file is larger than the {limit_bytes} bytes allowed.",
        code="file_too_large",
        extra={"limitBytes": limit_bytes},
    )


def quota_exceeded(used_bytes: int, quota_bytes: int) -> ValidationFailed:
    return ValidationFailed(
        "Your storage quota is used up.",
        code="quota_exceeded",
        extra={"usedBytes": used_bytes, "quotaBytes": quota_bytes},
    )


def daily_uploads_exceeded(limit: int) -> ValidationFailed:
    return ValidationFailed(
        f"You reached the limit of {limit} uploads a day.", code="daily_upload_limit", extra={"limit": limit}
    )


def image_too_large(width: int, height: int, max_pixels: int, max_side: int) -> ValidationFailed:
    return ValidationFailed(
        f"The image is {width}x{height}; at most {max_pixels} pixels and {max_side} px a side are allowed.",
        code="image_too_large",
        extra={"width": width, "height": height, "maxPixels": max_pixels, "maxSide": max_side},
    )


def corrupt_media(detail: str = "The file could not be decoded.") -> ValidationFailed:
    return ValidationFailed(detail, code="corrupt_media")


def upload_session_required() -> ValidationFailed:
    return ValidationFailed(
        "Videos are uploaded through an upload session (POST /api/v1/files/uploads).",
        code="upload_session_required",
    )


def file_not_found() -> NotFound:
    return NotFound("No such file.", code="file_not_found")


def variant_not_found() -> NotFound:
    return NotFound("No such variant.", code="variant_not_found")


def file_in_use(references: int) -> Conflict:
    return Conflict("The file is still referenced.", code="file_in_use", extra={"references": references})


class Busy(ServiceUnavailable):
    """The image pool is saturated: answered 503 with ``Retry-After``."""

    def __init__(self, retry_after: int = 2) -> None:
        super().__init__(
            "Too many images are being processed; retry shortly.",
            code="busy",
            extra={"retryAfter": retry_after},
        )
        self.retry_after = retry_after


def busy(retry_after: int = 2) -> Busy:
    return Busy(retry_after)


def forbidden_purpose(purpose: str) -> ValidationFailed:
    return ValidationFailed(f"This file is not a {purpose}.", code="wrong_purpose")


def file_failed() -> Conflict:
    return Conflict("The file failed processing.", code="file_failed")
