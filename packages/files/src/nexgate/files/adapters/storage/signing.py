"""HMAC-signed app URLs for private media on the filesystem adapter (constant-time checks)."""

from __future__ import annotations

import hashlib
import hmac
import time

_CONTEXT = b"nexgate.files.url.v1\x00"


class UrlSigner:
    def __init__(self, secret: str) -> None:
        if len(secret.encode()) < 16:
            raise ValueError("the files URL secret must be at least 16 bytes")
        self._key = secret.encode()

    def signature(self, method: str, key: str, expires: int) -> str:
        message = _CONTEXT + f"{method}\n{key}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def query(self, method: str, key: str, ttl_s: int, *, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + ttl_s)
        return f"exp={expires}&sig={self.signature(method, key, expires)}"

    def verify(
        self, method: str, key: str, expires: str | None, sig: str | None, *, now: float | None = None
    ) -> bool:
        if not expires or not sig or not expires.isdigit() or len(sig) != 64:
            return False
        expected = self.signature(method, key, int(expires))
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            return False
        return int(expires) >= (now if now is not None else time.time())
