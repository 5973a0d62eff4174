"""Object keys: validated once, for every adapter, so no key can escape its store."""

from __future__ import annotations

import re

_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MAX_KEY = 512


def check_key(key: str) -> str:
    """``key`` if it is a plain relative key (``pub/<id>/thumb-1a2b3c4d.webp``), else ValueError."""
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY:
        raise ValueError("invalid object key")
    segments = key.split("/")
    for segment in segments:
        if segment in ("", ".", "..") or not _SEGMENT.fullmatch(segment) or ".." in segment:
            raise ValueError(f"invalid object key {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """A listing prefix: a key, or a key followed by ``/``, or empty."""
    if prefix == "":
        return prefix
    check_key(prefix.rstrip("/"))
    return prefix
