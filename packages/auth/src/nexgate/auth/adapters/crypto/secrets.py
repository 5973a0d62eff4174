"""Implementations of the auth context's cryptographic ports."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import uuid

import argon2
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

#: Refresh tokens are recognisable in logs, leak scanners and support tickets.
REFRESH_PREFIX = "ngr_"


class Argon2Hasher:
    """argon2id through argon2-cffi, run in a worker thread so the event loop never blocks."""

    def __init__(self, *, time_cost: int, memory_cost: int, parallelism: int) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, type=argon2.Type.ID
        )
        # The hash an unknown identifier is checked against: same parameters, same cost.
        # Made on first use, so building the app costs no hashing.
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.to_thread(self._verify, password_hash, password)

    async def dummy_verify(self, password: str) -> None:
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_urlsafe(16))
        await asyncio.to_thread(self._verify, self._dummy, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (argon2.exceptions.VerifyMismatchError, argon2.exceptions.InvalidHashError):
            return False


class HmacCodes:
    """Six-digit codes from `secrets`; only HMAC-SHA256(pepper, challenge id || code) is kept."""

    def __init__(self, pepper: bytes) -> None:
        if len(pepper) < 32:
            raise ValueError("the OTP pepper must be at least 32 bytes")
        self._pepper = pepper

    def new_code(self) -> str:
        return f"{secrets.randbelow(1_000_000):06d}"

    def digest(self, challenge_id: uuid.UUID, code: str) -> bytes:
        return hmac.new(self._pepper, challenge_id.bytes + code.strip().encode(), hashlib.sha256).digest()

    def matches(self, challenge_id: uuid.UUID, code: str, code_hash: bytes) -> bool:
        return hmac.compare_digest(self.digest(challenge_id, code), code_hash)

    def decoy_digest(self) -> bytes:
        return secrets.token_bytes(32)


class AesGcmCodeCipher:
    """Encrypts a code for the deliverer: base64url(nonce || AES-256-GCM(code, aad=challenge id))."""

    def __init__(self, keys: dict[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise ValueError("the active delivery key id names no key")
        for key_id, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"delivery key {key_id!r} must be 32 bytes (AES-256)")
        self._keys = keys
        self._active = active_key_id

    def encrypt(self, code: str, challenge_id: uuid.UUID) -> tuple[str, str]:
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self._keys[self._active]).encrypt(nonce, code.encode(), str(challenge_id).encode())
        return self._active, base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def decrypt(self, key_id: str, ciphertext: str, challenge_id: uuid.UUID) -> str:
        """What the deliverer (notifications) does; here for tests and the console deliverer."""
        raw = base64.urlsafe_b64decode(ciphertext + "=" * (-len(ciphertext) % 4))
        return AESGCM(self._keys[key_id]).decrypt(raw[:12], raw[12:], str(challenge_id).encode()).decode()


class RefreshMaterial:
    """Opaque 256-bit refresh tokens; a successor is derived, so a grace retry can get it again."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the refresh-token secret must be at least 32 bytes")
        self._secret = secret

    def new_token(self) -> str:
        return REFRESH_PREFIX + secrets.token_urlsafe(32)

    def successor(self, token: str) -> str:
        mac = hmac.new(self._secret, b"successor\x00" + token.encode(), hashlib.sha256).digest()
        return REFRESH_PREFIX + base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def digest(self, token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def device_hash(self, account_id: uuid.UUID, device_id: str) -> bytes:
        return hashlib.sha256(account_id.bytes + device_id.encode()).digest()
