"""Ed25519 signing keys: the local key file, the public JWKS, and where verifiers find keys.

All-in-one mode: the process loads (or creates) the signing key file and verifies with it
(`StaticKeySource`). Split mode: contexts fetch the auth context's
``/.well-known/jwks.json`` (`RemoteJWKSSource`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final, Protocol

import httpx
import structlog
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

ALGORITHM: Final = "Ed25519"
log = structlog.get_logger("nexgate.security")


def _is_ed25519(key: OKPKey) -> bool:
    return key.curve_name == "Ed25519"


def load_or_create_signing_key(path: Path) -> OKPKey:
    """Return the private signing key stored at ``path``, creating it on first use.

    The file is a private JWK whose ``kid`` is its RFC 7638 thumbprint. Creation is
    race-safe: the key is written to a 0600 temporary file and hard-linked into place, so
    when two processes start together one wins and the other loads the winner's key.
    """
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = OKPKey.generate_key(ALGORITHM, parameters={"use": "sig", "alg": ALGORITHM})
        document = json.dumps(key.as_dict(private=True, kid=key.thumbprint()))
        # mkstemp creates the file with 0600 already: the private key is never world-readable.
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as tmp:
                tmp.write(document)
                tmp.flush()
                os.fsync(tmp.fileno())
            with contextlib.suppress(FileExistsError):  # another process created it first
                os.link(tmp_name, path)
        finally:
            os.unlink(tmp_name)
    key = OKPKey.import_key(json.loads(path.read_text(encoding="utf-8")))
    if not key.is_private or not _is_ed25519(key):
        raise ValueError(f"{path} does not hold a private Ed25519 JWK")
    key.ensure_kid()
    return key


def retired_keys_path(path: Path) -> Path:
    """Where keys retired by `rotate_signing_key` wait until their tokens have expired."""
    return path.with_name(f"{path.name}.retired.json")


def load_retired_keys(path: Path) -> list[OKPKey]:
    """Public parts of the keys retired from the signing key at ``path`` (none if never rotated).

    They still verify the tokens they signed, so verifiers and the JWKS keep them until
    the next rotation prunes them (see `rotate_signing_key`).
    """
    retired = retired_keys_path(path)
    if not retired.exists():
        return []
    entries = json.loads(retired.read_text(encoding="utf-8")).get("keys", [])
    keys = [_signing_key(entry) for entry in entries]
    return [key for key in keys if key is not None]


def rotate_signing_key(path: Path, *, now: float | None = None, keep_s: float = 3600) -> OKPKey:
    """Make a new signing key; the current one keeps verifying as a retired key.

    Retired keys older than ``keep_s`` seconds (use at least one access-token lifetime) are
    pruned. Processes load keys at start: restart them after a rotation (split-mode
    verifiers refetch the JWKS on an unknown ``kid`` by themselves).
    """
    at = time.time() if now is None else now
    current = load_or_create_signing_key(path)
    retired = retired_keys_path(path)
    entries = json.loads(retired.read_text(encoding="utf-8")).get("keys", []) if retired.exists() else []
    kept = [e for e in entries if at - float(e.get("retired_at", 0)) < keep_s]
    kept.append({**_public(current).as_dict(private=False), "retired_at": at})
    _write_private(retired, json.dumps({"keys": kept}))
    key = OKPKey.generate_key(ALGORITHM, parameters={"use": "sig", "alg": ALGORITHM})
    _write_private(path, json.dumps(key.as_dict(private=True, kid=key.thumbprint())))
    return load_or_create_signing_key(path)


def _write_private(path: Path, document: str) -> None:
    """Replace ``path`` atomically with a 0600 file."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            tmp.write(document)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def public_keyset(keys: Iterable[OKPKey]) -> dict[str, Any]:
    """The JWKS document served at ``/.well-known/jwks.json`` (public parts only)."""
    return {"keys": [_public(key).as_dict(private=False) for key in keys]}


def _public(key: OKPKey) -> OKPKey:
    """A verification-only copy: ``kty``, ``crv``, ``x``, ``kid`` and nothing else."""
    data = key.as_dict(private=False)
    kid = key.kid or key.thumbprint()
    return OKPKey.import_key(
        {"kty": "OKP", "crv": data["crv"], "x": data["x"], "kid": kid, "use": "sig", "alg": ALGORITHM}
    )


class KeySource(Protocol):
    """Where a verifier finds the public key named by a token's ``kid``."""

    async def key_for(self, kid: str) -> OKPKey | None: ...


class StaticKeySource:
    """Keys this process already holds (all-in-one mode)."""

    def __init__(self, keys: Iterable[OKPKey]) -> None:
        self._keys: dict[str, OKPKey] = {}
        for key in keys:
            if not _is_ed25519(key):
                raise ValueError("only Ed25519 keys can verify access tokens")
            public = _public(key)
            self._keys[str(public.kid)] = public

    async def key_for(self, kid: str) -> OKPKey | None:
        return self._keys.get(kid)


class RemoteJWKSSource:
    """The auth context's JWKS, fetched over HTTP and cached (split mode).

    - The set is cached for ``cache_s``; after that the next lookup refetches it.
    - An unknown ``kid`` (key rotation) triggers a refetch, at most once per
      ``unknown_kid_refetch_s``, so garbage ``kid`` values cannot hammer the auth service.
    - A failed fetch keeps serving the cached set and is retried after ``retry_s``: a
      short auth-service outage must not log everybody out.
    - Only OKP Ed25519 signing keys are taken from the set; everything else is ignored.
    """

    def __init__(
        self,
        url: str,
        cache_s: float = 300,
        http: httpx.AsyncClient | None = None,
        *,
        unknown_kid_refetch_s: float = 30,
        retry_s: float = 5,
        timeout_s: float = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.cache_s = cache_s
        self.unknown_kid_refetch_s = unknown_kid_refetch_s
        self.retry_s = retry_s
        self.timeout_s = timeout_s
        self._clock = clock
        self._http = http
        self._owns_http = http is None
        self._keys: dict[str, OKPKey] = {}
        self._fresh_until = -math.inf
        self._last_attempt = -math.inf
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> OKPKey | None:
        await self._refresh_if(self._stale)
        key = self._keys.get(kid)
        if key is None and await self._refresh_if(self._may_look_for_new_keys):
            key = self._keys.get(kid)
        return key

    async def aclose(self) -> None:
        """Close the HTTP client if this source created it."""
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    def _stale(self, now: float) -> bool:
        return now >= self._fresh_until and now - self._last_attempt >= self.retry_s

    def _may_look_for_new_keys(self, now: float) -> bool:
        return now - self._last_attempt >= self.unknown_kid_refetch_s

    async def _refresh_if(self, due: Callable[[float], bool]) -> bool:
        """Fetch the set if ``due``; re-checked under the lock so concurrent callers fetch once."""
        if not due(self._clock()):
            return False
        async with self._lock:
            now = self._clock()
            if not due(now):
                return False
            self._last_attempt = now
            try:
                self._keys = await self._fetch()
            except (httpx.HTTPError, ValueError) as exc:
                log.warning(
                    "jwks.fetch_failed", url=self.url, error=type(exc).__name__, cached=len(self._keys)
                )
                return False
            self._fresh_until = now + self.cache_s
            return True

    async def _fetch(self) -> dict[str, OKPKey]:
        if self._http is None:
            self._http = httpx.AsyncClient()
        response = await self._http.get(self.url, timeout=self.timeout_s)
        response.raise_for_status()
        document = response.json()
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise ValueError("not a JWKS document")
        keys: dict[str, OKPKey] = {}
        for entry in entries:
            key = _signing_key(entry)
            if key is not None:
                keys[str(key.kid)] = key
        return keys


def _signing_key(entry: object) -> OKPKey | None:
    """An Ed25519 verification key from one JWKS entry, or None for anything else."""
    if not isinstance(entry, dict):
        return None
    if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
        return None
    if entry.get("use", "sig") != "sig" or entry.get("alg", ALGORITHM) != ALGORITHM:
        return None
    kid, x = entry.get("kid"), entry.get("x")
    if not isinstance(kid, str) or not kid or not isinstance(x, str):
        return None
    try:
        # Rebuilt from the public fields only: a stray "d" or "key_ops" is never trusted.
        return OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid})
    except (JoseError, ValueError, TypeError):  # a malformed key is skipped, not fatal for the set
        return None
