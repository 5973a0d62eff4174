"""Builds the auth use cases' ports from the process runtime and the auth settings."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from nexgate.auth.adapters.crypto.secrets import AesGcmCodeCipher, Argon2Hasher, HmacCodes, RefreshMaterial
from nexgate.auth.adapters.oidc import (
    IdTokenVerifier,
    OidcGateway,
    RedisLinkTokens,
    RedisOidcNonces,
    providers_from,
)
from nexgate.auth.adapters.redis.lockout import DenylistRevoker, RedisLockout, RedisRecentAuthentication
from nexgate.auth.adapters.sql.repository import SqlUnitOfWork
from nexgate.auth.application.services import AuthServices
from nexgate.auth.settings import AuthSettings
from nexgate.kernel.http.ratelimit import RateLimiter
from nexgate.kernel.runtime import Runtime
from nexgate.kernel.security.keys import load_or_create_signing_key, load_retired_keys, public_keyset
from nexgate.kernel.security.revocation import SessionDenylist
from nexgate.kernel.security.tokens import ACCESS_TOKEN_TTL, TokenSigner


class SignerTokens:
    """`AccessTokens` on the kernel's `TokenSigner` (Ed25519, ``kid`` in the header)."""

    def __init__(self, signer: TokenSigner) -> None:
        self._signer = signer
        self.ttl_s = int(ACCESS_TOKEN_TTL.total_seconds())

    def issue(self, account_id: uuid.UUID, session_id: uuid.UUID, roles: frozenset[str]) -> str:
        return self._signer.issue(account_id, session_id, roles=roles, ttl=ACCESS_TOKEN_TTL)


def signer(runtime: Runtime) -> TokenSigner:
    settings = runtime.settings
    return TokenSigner(
        load_or_create_signing_key(settings.signing_key_file), settings.jwt_issuer, settings.jwt_audience
    )


def jwks_document(runtime: Runtime) -> dict[str, Any]:
    """The active key and the retired ones (they verify tokens signed before a rotation)."""
    path = runtime.settings.signing_key_file
    return public_keyset([load_or_create_signing_key(path), *load_retired_keys(path)])


def build_services(
    runtime: Runtime, settings: AuthSettings, *, http: httpx.AsyncClient | None = None
) -> AuthServices:
    """The use cases' ports; OpenID providers are wired only with an ``http`` client (the api)."""
    keys, active = settings.delivery_keys()
    prefix = runtime.settings.redis_prefix
    oidc = providers_from(settings.oidc_providers) if http is not None else {}
    return AuthServices(
        uow=SqlUnitOfWork(runtime.database().sessions),
        clock=runtime.clock,
        hasher=Argon2Hasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        ),
        codes=HmacCodes(settings.pepper()),
        cipher=AesGcmCodeCipher(keys, active),
        refresh=RefreshMaterial(settings.refresh_key()),
        tokens=SignerTokens(signer(runtime)),
        revoker=DenylistRevoker(SessionDenylist(runtime.redis, prefix)),
        limiter=RateLimiter(runtime.redis, prefix=prefix),
        lockout=RedisLockout(
            runtime.redis,
            prefix,
            threshold=settings.lockout_threshold,
            window_s=settings.lockout_window_s,
            base_lock_s=settings.lockout_base_s,
            max_lock_s=settings.lockout_max_s,
        ),
        reauth=RedisRecentAuthentication(runtime.redis, prefix),
        policy=settings.policy(),
        providers=(
            OidcGateway(
                IdTokenVerifier(oidc, http, redis=runtime.redis, redis_prefix=prefix),
                RedisOidcNonces(runtime.redis, prefix),
            )
            if oidc and http is not None
            else None
        ),
        link_tokens=RedisLinkTokens(runtime.redis, prefix) if oidc else None,
    )
