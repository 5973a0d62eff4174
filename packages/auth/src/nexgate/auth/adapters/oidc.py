"""OpenID Connect ID-token verification (Google and Apple style) and single-use nonces.

Not wired to HTTP yet (see the README): ``IdTokenVerifier`` and ``RedisOidcNonces`` are the
building blocks of ``POST /oauth/{provider}/nonces`` and ``POST /oauth/{provider}/sign-in``.

- Only the algorithms a provider allows (RS256; ``none`` and HMAC are refused by the settings)
  are accepted, and the header is checked before any key is looked at.
- The JWKS (found through discovery) is cached; an unknown ``kid`` refetches it at most once per
  ``refetch_interval_s``. A provider that cannot be reached raises ``IdentityProviderUnavailable``:
  a token is never accepted unverified.
- Claims: ``iss`` exactly one of the provider's issuers, ``aud`` among its client ids, ``azp``
  (if present) among them too, ``exp`` in the future, ``iat`` not older than ``max_age_s`` (nor in
  the future beyond the leeway), ``nonce`` equal to the expected one (or its SHA-256 hex when the
  provider hashes nonces, as Apple does). The email is trusted only when ``email_verified`` is
  ``true`` or ``"true"``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from redis.asyncio import Redis

from nexgate.auth.settings import OidcProviderSettings

ALLOWED_ALGORITHMS = frozenset({"RS256"})


class InvalidIdToken(Exception):
    """401 ``invalid_id_token``; ``reason`` says which check failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IdentityProviderUnavailable(Exception):
    """503 ``identity_provider_unavailable``: discovery or JWKS could not be fetched."""


@dataclass(frozen=True, slots=True)
class OidcProvider:
    name: str
    issuers: tuple[str, ...]
    discovery_url: str
    client_ids: tuple[str, ...]
    algorithms: tuple[str, ...] = ("RS256",)
    #: The token carries SHA-256(nonce) hex instead of the nonce (Apple).
    hashed_nonce: bool = False
    #: Emails at this domain are relays and never match an account by email (Apple).
    private_relay_domain: str | None = None

    def __post_init__(self) -> None:
        if not self.algorithms or not set(self.algorithms) <= ALLOWED_ALGORITHMS:
            raise ValueError(f"provider {self.name}: only {sorted(ALLOWED_ALGORITHMS)} may be allowed")
        if not self.issuers or not self.client_ids:
            raise ValueError(f"provider {self.name}: issuers and client ids are required")


def providers_from(settings: dict[str, OidcProviderSettings]) -> dict[str, OidcProvider]:
    return {
        name: OidcProvider(
            name=name,
            issuers=tuple(entry.issuers),
            discovery_url=entry.discovery_url,
            client_ids=tuple(entry.client_ids),
            algorithms=tuple(entry.algorithms),
            hashed_nonce=entry.hashed_nonce,
            private_relay_domain=entry.private_relay_domain,
        )
        for name, entry in settings.items()
    }


@dataclass(frozen=True, slots=True)
class VerifiedIdToken:
    provider: str
    subject: str
    #: Present only when the provider says it is verified.
    email: str | None
    private_relay: bool
    claims: dict[str, Any]


@dataclass(slots=True)
class _CachedKeys:
    keys: KeySet | None = None
    fetched_at: float = field(default=float("-inf"))


def _b64json(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise InvalidIdToken("malformed") from exc
    if not isinstance(value, dict):
        raise InvalidIdToken("malformed")
    return value


class IdTokenVerifier:
    def __init__(
        self,
        providers: dict[str, OidcProvider],
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        refetch_interval_s: float = 60.0,
        max_age_s: int = 600,
        leeway_s: int = 60,
    ) -> None:
        self._providers = providers
        self._http = http
        self._clock = clock
        self._monotonic = monotonic
        self._refetch_interval_s = refetch_interval_s
        self._max_age_s = max_age_s
        self._leeway_s = leeway_s
        self._cache: dict[str, _CachedKeys] = {name: _CachedKeys() for name in providers}

    def provider(self, name: str) -> OidcProvider | None:
        return self._providers.get(name)

    async def _fetch(self, provider: OidcProvider) -> KeySet:
        try:
            discovery = await self._http.get(provider.discovery_url)
            discovery.raise_for_status()
            jwks = await self._http.get(discovery.json()["jwks_uri"])
            jwks.raise_for_status()
            keys = KeySet.import_key_set(jwks.json())
        except (httpx.HTTPError, ValueError, KeyError, TypeError, JoseError) as exc:
            raise IdentityProviderUnavailable(provider.name) from exc
        cached = self._cache[provider.name]
        cached.keys, cached.fetched_at = keys, self._monotonic()
        return keys

    async def _keys_for(self, provider: OidcProvider, kid: str) -> KeySet:
        cached = self._cache[provider.name]
        keys = cached.keys if cached.keys is not None else await self._fetch(provider)
        if any(key.kid == kid for key in keys.keys):
            return keys
        if self._monotonic() - cached.fetched_at >= self._refetch_interval_s:
            keys = await self._fetch(provider)
            if any(key.kid == kid for key in keys.keys):
                return keys
        raise InvalidIdToken("unknown_key")

    async def verify(self, provider_name: str, token: str, nonce: str) -> VerifiedIdToken:
        provider = self._providers.get(provider_name)
        if provider is None:
            raise LookupError(provider_name)
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidIdToken("malformed")
        header = _b64json(parts[0])
        if header.get("alg") not in provider.algorithms:
            raise InvalidIdToken("algorithm_not_allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidIdToken("unknown_key")
        keys = await self._keys_for(provider, kid)
        try:
            claims = jwt.decode(token, keys, algorithms=list(provider.algorithms)).claims
        except JoseError as exc:
            raise InvalidIdToken("bad_signature") from exc
        return self._check(provider, claims, nonce)

    def _check(self, provider: OidcProvider, claims: dict[str, Any], nonce: str) -> VerifiedIdToken:
        now = self._clock()
        if claims.get("iss") not in provider.issuers:
            raise InvalidIdToken("wrong_issuer")
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not any(a in provider.client_ids for a in audiences):
            raise InvalidIdToken("wrong_audience")
        if "azp" in claims and claims["azp"] not in provider.client_ids:
            raise InvalidIdToken("wrong_authorized_party")
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int | float) or exp <= now - self._leeway_s:
            raise InvalidIdToken("expired")
        if not isinstance(iat, int | float) or iat < now - self._max_age_s or iat > now + self._leeway_s:
            raise InvalidIdToken("issued_at_out_of_range")
        claimed = claims.get("nonce")
        if not isinstance(claimed, str):
            raise InvalidIdToken("nonce_missing")
        expected = hashlib.sha256(nonce.encode()).hexdigest() if provider.hashed_nonce else nonce
        if not hmac.compare_digest(claimed.encode(), expected.encode()):
            raise InvalidIdToken("nonce_mismatch")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise InvalidIdToken("subject_missing")
        email = claims.get("email")
        verified = claims.get("email_verified") in (True, "true")
        trusted = email.strip().lower() if isinstance(email, str) and verified else None
        relay = bool(
            trusted
            and provider.private_relay_domain
            and trusted.endswith("@" + provider.private_relay_domain)
        )
        return VerifiedIdToken(provider.name, subject, trusted, relay, claims)


class RedisOidcNonces:
    """Single-use server nonces per provider (10 minutes); only SHA-256 of a nonce is a key."""

    def __init__(self, redis: Redis, prefix: str, ttl_s: int = 600) -> None:
        self._redis = redis
        self._prefix = f"{prefix}auth:oidc-nonce:"
        self._ttl_s = ttl_s

    def _key(self, provider: str, nonce: str) -> str:
        return f"{self._prefix}{provider}:{hashlib.sha256(nonce.encode()).hexdigest()}"

    async def issue(self, provider: str) -> str:
        nonce = secrets.token_urlsafe(32)
        await self._redis.set(self._key(provider, nonce), b"1", ex=self._ttl_s)
        return nonce

    async def consume(self, provider: str, nonce: str) -> bool:
        """True once for a nonce issued for ``provider`` within its lifetime, then never again."""
        return bool(await self._redis.delete(self._key(provider, nonce)))
