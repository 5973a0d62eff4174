"""The cryptographic adapters: argon2id, code MACs, delivery encryption, refresh material."""

from __future__ import annotations

import uuid

import pytest
from cryptography.exceptions import InvalidTag

from nexgate.auth.adapters.crypto.secrets import (
    REFRESH_PREFIX,
    AesGcmCodeCipher,
    Argon2Hasher,
    HmacCodes,
    RefreshMaterial,
)
from nexgate.auth.settings import AuthSettings


@pytest.fixture
def hasher() -> Argon2Hasher:
    return Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1)


async def test_argon2id_hash_verify_and_rehash(hasher: Argon2Hasher) -> None:
    stored = await hasher.hash("habari yako rafiki")
    assert stored.startswith("$argon2id$")
    assert await hasher.verify(stored, "habari yako rafiki")
    assert not await hasher.verify(stored, "habari yako rafikii")
    assert not await hasher.verify("not a hash", "x")
    await hasher.dummy_verify("anything")  # never raises, whatever the input
    assert not hasher.needs_rehash(stored)
    stronger = Argon2Hasher(time_cost=2, memory_cost=2048, parallelism=1)
    assert stronger.needs_rehash(stored)


def test_codes_are_six_digits_bound_to_their_challenge() -> None:
    codes = HmacCodes(b"p" * 32)
    seen = {codes.new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in seen)
    assert len(seen) > 150
    one, other = uuid.uuid4(), uuid.uuid4()
    digest = codes.digest(one, "123456")
    assert codes.matches(one, "123456", digest)
    assert not codes.matches(other, "123456", digest)
    assert not codes.matches(one, "123457", digest)
    assert not HmacCodes(b"q" * 32).matches(one, "123456", digest)
    assert codes.decoy_digest() != codes.decoy_digest()
    with pytest.raises(ValueError, match="32 bytes"):
        HmacCodes(b"short")


def test_delivery_encryption_round_trip_and_binding() -> None:
    cipher = AesGcmCodeCipher({"k1": b"k" * 32, "k2": b"j" * 32}, "k2")
    challenge = uuid.uuid4()
    key_id, sealed = cipher.encrypt("042195", challenge)
    assert key_id == "k2"
    assert "042195" not in sealed
    assert cipher.decrypt(key_id, sealed, challenge) == "042195"
    assert cipher.encrypt("042195", challenge)[1] != sealed  # fresh nonce each time
    with pytest.raises(InvalidTag):
        cipher.decrypt(key_id, sealed, uuid.uuid4())  # replayed under another challenge
    with pytest.raises(ValueError, match="32 bytes"):
        AesGcmCodeCipher({"k": b"short"}, "k")


def test_refresh_tokens_are_prefixed_random_and_successors_derived() -> None:
    material = RefreshMaterial(b"s" * 32)
    token = material.new_token()
    assert token.startswith(REFRESH_PREFIX)
    assert len(token) - len(REFRESH_PREFIX) == 43
    assert material.new_token() != token
    assert material.successor(token) == material.successor(token)
    assert material.successor(token) != material.successor(material.successor(token))
    assert RefreshMaterial(b"t" * 32).successor(token) != material.successor(token)
    assert len(material.digest(token)) == 32
    account = uuid.uuid4()
    assert material.device_hash(account, "device-1") != material.device_hash(uuid.uuid4(), "device-1")


def test_development_secrets_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEXGATE_AUTH_OTP_DELIVERY_KEYS", raising=False)
    monkeypatch.delenv("NEXGATE_AUTH_OTP_DELIVERY_KEY_ID", raising=False)
    settings = AuthSettings(_env_file=None)  # type: ignore[call-arg]
    settings.check_for("development")
    with pytest.raises(RuntimeError, match="NEXGATE_AUTH_OTP_PEPPER"):
        settings.check_for("production")
    keys, active = settings.delivery_keys()
    assert active == "dev"
    assert len(keys["dev"]) == 32
