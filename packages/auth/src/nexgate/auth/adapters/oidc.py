"""OpenID Connect (Google and Apple style): ID-token verification, single-use nonces, the PKCE
code exchange, and ``OidcGateway``, the `IdentityProviders` port the sign-in routes use.

- Only the algorithms a provider allows (RS256; ``none`` and HMAC are refused by the settings)
  are accepted, and the header is checked before any key is looked at.
- The JWKS (found through discovery) is cached in process and in Redis for the provider's
  ``Cache-Control: max-age`` (clamped to 1 min .. 1 day); an unknown ``kid`` refetches it at most
  once per ``refetch_interval_s``. A provider that cannot be reached raises ``IdentityProviderUnavailable``:
  a token is never accepted unverified.
- Claims: ``iss`` exactly one of the provider's issuers, every ``aud`` entry among its client ids,
  ``azp`` among them too (required when there are several audiences, OIDC Core 3.1.3.7),
  ``exp`` in the future, ``iat`` not older than ``max_age_s`` (nor in the future beyond the
  leeway), ``nonce`` equal to the expected one (or its SHA-256 hex when the provider hashes
  nonces, as Apple does). The email is trusted only when ``email_verified`` is
  ``true`` or ``"true"``, and only if it is an address we store (254 characters at most).
- A burst of tokens with an unknown ``kid`` (or a cold cache) fetches the JWKS once: fetches of
  one provider are serialised and a waiter uses what the fetch before it brought. A Redis copy
  that does not import counts as a miss.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet
from redis.asyncio import Redis

from nexgate.auth.domain.accounts import normalize_email
from nexgate.auth.domain.identities import (
    IdentityProviderUnavailable,
    InvalidIdToken,
    PendingLink,
    ProviderIdentity,
)
from nexgate.auth.settings import OidcProviderSettings
from nexgate.kernel.errors import ValidationFailed

ALLOWED_ALGORITHMS = frozenset({"RS256"})


@dataclass(frozen=True, slots=True)
class ClientSecretJwt:
    """Apple's client secret: an ES256 JWT (``iss`` team id, ``sub`` client id, ``kid`` key id)."""

    team_id: str
    key_id: str
    private_key_pem: str
    audience: str = "https://appleid.apple.com"
    lifetime_s: int = 300

    def mint(self, client_id: str, now: float) -> str:
        key = ECKey.import_key(self.private_key_pem)
        claims = {
            "iss": self.team_id,
            "sub": client_id,
            "aud": self.audience,
            "iat": int(now),
            "exp": int(now) + self.lifetime_s,
        }
        return jwt.encode({"alg": "ES256", "kid": self.key_id}, claims, key, algorithms=["ES256"])


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
    #: The client the code path exchanges codes for (the web client); default the last client id.
    code_client_id: str | None = None
    #: A static client secret (Google style).
    client_secret: str | None = None
    #: Apple style: the client secret is an ES256 JWT signed with this key for each exchange.
    secret_jwt: ClientSecretJwt | None = None

    @property
    def exchange_client_id(self) -> str:
        return self.code_client_id or self.client_ids[-1]

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
            code_client_id=entry.code_client_id,
            client_secret=entry.client_secret,
            secret_jwt=(
                ClientSecretJwt(
                    team_id=entry.client_secret_jwt.team_id,
                    key_id=entry.client_secret_jwt.key_id,
                    private_key_pem=entry.client_secret_jwt.private_key_file.read_text(encoding="utf-8"),
                    audience=entry.client_secret_jwt.audience,
                )
                if entry.client_secret_jwt
                else None
            ),
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
    #: When this process last fetched from the provider (rate-limits the unknown-kid refetch).
    fetched_at: float = field(default=float("-inf"))
    #: When the cached keys go stale (the provider's ``Cache-Control: max-age``).
    expires_at: float = field(default=float("-inf"))


_MAX_AGE = re.compile(r"max-age=(\d+)")


def _max_age(cache_control: str | None, default_s: int) -> int:
    """The JWKS lifetime the provider asks for, clamped to [60 s, 1 day]."""
    found = _MAX_AGE.search(cache_control or "")
    seconds = int(found.group(1)) if found else default_s
    return max(60, min(seconds, 86400))


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
        redis: Redis | None = None,
        redis_prefix: str = "",
        default_jwks_max_age_s: int = 3600,
    ) -> None:
        self._redis = redis
        self._redis_prefix = f"{redis_prefix}auth:oidc-jwks:"
        self._default_jwks_max_age_s = default_jwks_max_age_s
        self._providers = providers
        self._http = http
        self._clock = clock
        self._monotonic = monotonic
        self._refetch_interval_s = refetch_interval_s
        self._max_age_s = max_age_s
        self._leeway_s = leeway_s
        self._cache: dict[str, _CachedKeys] = {name: _CachedKeys() for name in providers}
        self._fetching: dict[str, asyncio.Lock] = {name: asyncio.Lock() for name in providers}
        self._discovery: dict[str, dict[str, Any]] = {}

    def provider(self, name: str) -> OidcProvider | None:
        return self._providers.get(name)

    async def _discover(self, provider: OidcProvider, *, fresh: bool = False) -> dict[str, Any]:
        if fresh or provider.name not in self._discovery:
            response = await self._http.get(provider.discovery_url)
            response.raise_for_status()
            document = response.json()
            if not isinstance(document, dict):
                raise ValueError("discovery is not an object")
            self._discovery[provider.name] = document
        return self._discovery[provider.name]

    async def _fetch(self, provider: OidcProvider, seen_at: float) -> KeySet:
        """From the provider, unless another task fetched after ``seen_at`` while this one waited."""
        async with self._fetching[provider.name]:
            cached = self._cache[provider.name]
            if cached.keys is not None and cached.fetched_at > seen_at:
                return cached.keys
            return await self._fetch_now(provider)

    async def _fetch_now(self, provider: OidcProvider) -> KeySet:
        """From the provider; shared through Redis (when given) for as long as it says."""
        try:
            discovery = await self._discover(provider, fresh=True)
            jwks = await self._http.get(discovery["jwks_uri"])
            jwks.raise_for_status()
            document = jwks.json()
            keys = KeySet.import_key_set(document)
        except (httpx.HTTPError, ValueError, KeyError, TypeError, JoseError) as exc:
            raise IdentityProviderUnavailable(provider.name) from exc
        max_age = _max_age(jwks.headers.get("cache-control"), self._default_jwks_max_age_s)
        now = self._monotonic()
        cached = self._cache[provider.name]
        cached.keys, cached.fetched_at, cached.expires_at = keys, now, now + max_age
        if self._redis is not None:
            await self._redis.set(self._redis_prefix + provider.name, json.dumps(document), ex=max_age)
        return keys

    async def _load(self, provider: OidcProvider) -> KeySet:
        """Fresh keys: this process's cache, else the one other processes put in Redis, else fetch."""
        cached = self._cache[provider.name]
        seen_at = cached.fetched_at
        if cached.keys is not None and self._monotonic() < cached.expires_at:
            return cached.keys
        if self._redis is not None:
            key = self._redis_prefix + provider.name
            raw, ttl = await self._redis.get(key), await self._redis.ttl(key)
            if raw is not None and ttl > 0:
                try:
                    keys = KeySet.import_key_set(json.loads(raw))
                except (ValueError, KeyError, TypeError, JoseError):
                    pass  # a corrupt or foreign copy: fetch a good one (which overwrites it)
                else:
                    cached.keys, cached.expires_at = keys, self._monotonic() + ttl
                    return keys
        return await self._fetch(provider, seen_at)

    async def _keys_for(self, provider: OidcProvider, kid: str) -> KeySet:
        cached = self._cache[provider.name]
        seen_at = cached.fetched_at
        keys = await self._load(provider)
        if any(key.kid == kid for key in keys.keys):
            return keys
        if self._monotonic() - cached.fetched_at >= self._refetch_interval_s or cached.fetched_at > seen_at:
            keys = await self._fetch(provider, seen_at)
            if any(key.kid == kid for key in keys.keys):
                return keys
        raise InvalidIdToken("unknown_key")

    async def exchange_code(
        self, provider_name: str, code: str, code_verifier: str, redirect_uri: str
    ) -> str:
        """Trade an authorization code (with its PKCE verifier) for the provider's ID token."""
        provider = self._providers[provider_name]
        client_id = provider.exchange_client_id
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "code_verifier": code_verifier,
        }
        if provider.secret_jwt is not None:
            form["client_secret"] = provider.secret_jwt.mint(client_id, self._clock())
        elif provider.client_secret is not None:
            form["client_secret"] = provider.client_secret
        try:
            endpoint = (await self._discover(provider))["token_endpoint"]
            response = await self._http.post(endpoint, data=form)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise IdentityProviderUnavailable(provider.name) from exc
        if response.status_code >= 500:
            raise IdentityProviderUnavailable(provider.name)
        if response.status_code != 200:
            raise InvalidIdToken("code_rejected")
        try:
            id_token = response.json()["id_token"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidIdToken("code_rejected") from exc
        if not isinstance(id_token, str):
            raise InvalidIdToken("code_rejected")
        return id_token

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
        # An audience we do not know means the token was minted for (and may be replayed by) someone else.
        if not audiences or any(a not in provider.client_ids for a in audiences):
            raise InvalidIdToken("wrong_audience")
        if ("azp" in claims or len(audiences) > 1) and claims.get("azp") not in provider.client_ids:
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
        trusted = _storable_email(email) if isinstance(email, str) and verified else None
        relay = bool(
            trusted
            and provider.private_relay_domain
            and trusted.endswith("@" + provider.private_relay_domain)
        )
        return VerifiedIdToken(provider.name, subject, trusted, relay, claims)


def _storable_email(email: str) -> str | None:
    """A provider's address as accounts store it, or None (too long or malformed: never trusted)."""
    try:
        return normalize_email(email)
    except ValidationFailed:
        return None


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


class RedisLinkTokens:
    """``account_link_required`` tokens: opaque, single use, 10 minutes; Redis keys are their SHA-256."""

    def __init__(self, redis: Redis, prefix: str, ttl_s: int = 600) -> None:
        self._redis = redis
        self._prefix = f"{prefix}auth:oidc-link:"
        self._ttl_s = ttl_s

    def _key(self, token: str) -> str:
        return self._prefix + hashlib.sha256(token.encode()).hexdigest()

    async def issue(self, link: PendingLink) -> str:
        token = "ngl_" + secrets.token_urlsafe(32)
        value = json.dumps(
            {"a": str(link.account_id), "p": link.provider, "s": link.subject, "e": link.email}
        )
        await self._redis.set(self._key(token), value, ex=self._ttl_s)
        return token

    async def peek(self, token: str) -> PendingLink | None:
        raw = await self._redis.get(self._key(token))
        if raw is None:
            return None
        data = json.loads(raw)
        return PendingLink(uuid.UUID(data["a"]), data["p"], data["s"], data["e"])

    async def take(self, token: str) -> bool:
        return bool(await self._redis.delete(self._key(token)))


class OidcGateway:
    """The `IdentityProviders` port: the verifier (discovery, JWKS, code exchange) and the nonces."""

    def __init__(self, verifier: IdTokenVerifier, nonces: RedisOidcNonces) -> None:
        self._verifier = verifier
        self._nonces = nonces

    def knows(self, provider: str) -> bool:
        return self._verifier.provider(provider) is not None

    async def issue_nonce(self, provider: str) -> str:
        return await self._nonces.issue(provider)

    async def consume_nonce(self, provider: str, nonce: str) -> bool:
        return await self._nonces.consume(provider, nonce)

    async def exchange_code(self, provider: str, code: str, code_verifier: str, redirect_uri: str) -> str:
        return await self._verifier.exchange_code(provider, code, code_verifier, redirect_uri)

    async def verify(self, provider: str, id_token: str, nonce: str) -> ProviderIdentity:
        verified = await self._verifier.verify(provider, id_token, nonce)
        name = verified.claims.get("name")
        return ProviderIdentity(
            provider=verified.provider,
            subject=verified.subject,
            email=verified.email,
            private_relay=verified.private_relay,
            name=name[:80] if isinstance(name, str) else None,
        )
