"""Access tokens: Ed25519-signed JWTs, issued by the auth context, verified everywhere.

Verification is deliberately strict and boring: one algorithm, a ``kid`` that must name a
key we know, signature before claims, and every failure collapsed into one of two stable
codes (``token_expired`` / ``invalid_token``) so clients and attackers learn nothing more.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import OKPKey

from nexgate.kernel.errors import NotAuthenticated
from nexgate.kernel.security.keys import ALGORITHM, KeySource
from nexgate.kernel.security.principal import Principal

ACCESS_TOKEN_TTL = timedelta(minutes=15)
#: Far above a real token (~400 chars); bounds the work an attacker can make us do.
MAX_TOKEN_LENGTH = 8192


class TokenSigner:
    """Issues access tokens (used by the auth context, and by tests)."""

    def __init__(self, key: OKPKey, issuer: str, audience: str) -> None:
        if not key.is_private or key.curve_name != "Ed25519":
            raise ValueError("the signing key must be a private Ed25519 key")
        self._key = key
        self._kid = key.kid or key.thumbprint()
        self.issuer = issuer
        self.audience = audience

    @property
    def kid(self) -> str:
        return self._kid

    def issue(
        self,
        user_id: uuid.UUID,
        session_id: uuid.UUID,
        roles: Iterable[str] = (),
        ttl: timedelta = ACCESS_TOKEN_TTL,
        now: datetime | None = None,
    ) -> str:
        issued = int((now or datetime.now(UTC)).timestamp())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user_id),
            "sid": str(session_id),
            "roles": sorted(set(roles)),
            "iat": issued,
            "nbf": issued,
            "exp": issued + int(ttl.total_seconds()),
            "jti": uuid.uuid4().hex,
        }
        header = {"alg": ALGORITHM, "typ": "JWT", "kid": self._kid}
        return jwt.encode(header, claims, self._key, algorithms=[ALGORITHM])


def _invalid(reason: str) -> NotAuthenticated:
    # The reason is always one of our own fixed strings, never library exception text.
    return NotAuthenticated(f"Invalid access token: {reason}.", code="invalid_token")


def _b64url_json(segment: str) -> Any:
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


class TokenVerifier:
    """Turns a bearer token into a `Principal`, or raises `NotAuthenticated`."""

    def __init__(self, source: KeySource, issuer: str, audience: str, leeway_s: int = 30) -> None:
        self._source = source
        self._claims = jwt.JWTClaimsRegistry(
            leeway=leeway_s,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            sub={"essential": True},
            sid={"essential": True},
        )

    async def verify(self, token: str) -> Principal:
        kid = self._checked_kid(token)
        key = await self._source.key_for(kid)
        if key is None:
            raise _invalid("unknown signing key")
        try:
            claims = jwt.decode(token, key, algorithms=[ALGORITHM]).claims
        except (JoseError, ValueError, TypeError) as exc:
            raise _invalid("bad signature") from exc
        try:
            self._claims.validate(claims)
        except ExpiredTokenError as exc:
            raise NotAuthenticated("The access token has expired.", code="token_expired") from exc
        except JoseError as exc:
            raise _invalid("bad claims") from exc
        return _principal(claims)

    @staticmethod
    def _checked_kid(token: str) -> str:
        """Read the header ourselves, before any key lookup or library call.

        Only ``Ed25519`` is accepted: this shuts out ``none``, HMAC tokens keyed with our
        public key, ``EdDSA`` (deprecated alias) and every other algorithm up front,
        independently of what the JOSE library would allow.
        """
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise _invalid("malformed token")
        try:
            header = _b64url_json(token.split(".", 1)[0])
        except (ValueError, binascii.Error, UnicodeError) as exc:
            raise _invalid("malformed header") from exc
        if not isinstance(header, dict):
            raise _invalid("malformed header")
        if header.get("alg") != ALGORITHM:
            raise _invalid("unsupported algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _invalid("missing key id")
        return kid


def _principal(claims: dict[str, Any]) -> Principal:
    sub, sid = claims.get("sub"), claims.get("sid")
    roles = claims.get("roles", [])
    jti = claims.get("jti", "")
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise _invalid("bad claims")
    if not isinstance(sub, str) or not isinstance(sid, str) or not isinstance(jti, str):
        raise _invalid("bad claims")
    try:
        return Principal(
            user_id=uuid.UUID(sub), session_id=uuid.UUID(sid), roles=frozenset(roles), token_id=jti
        )
    except ValueError as exc:
        raise _invalid("bad claims") from exc
