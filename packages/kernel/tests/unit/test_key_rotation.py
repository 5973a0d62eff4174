"""Signing-key rotation: the new key signs, retired keys verify until they are pruned."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import pytest

from nexgate.kernel.errors import NotAuthenticated
from nexgate.kernel.security.keys import (
    StaticKeySource,
    load_or_create_signing_key,
    load_retired_keys,
    retired_keys_path,
    rotate_signing_key,
)
from nexgate.kernel.security.tokens import TokenSigner, TokenVerifier


def verifier(path: Path) -> TokenVerifier:
    keys = [load_or_create_signing_key(path), *load_retired_keys(path)]
    return TokenVerifier(StaticKeySource(keys), "iss", "aud")


async def test_rotation_keeps_old_tokens_valid_until_pruned(tmp_path: Path) -> None:
    path = tmp_path / "signing.json"
    assert load_retired_keys(path) == []
    old = load_or_create_signing_key(path)
    old_token = TokenSigner(old, "iss", "aud").issue(uuid.uuid4(), uuid.uuid4())

    new = rotate_signing_key(path, now=1_000.0, keep_s=3600)
    assert new.kid != old.kid
    assert load_or_create_signing_key(path).kid == new.kid
    assert [k.kid for k in load_retired_keys(path)] == [old.kid]
    assert not any(k.is_private for k in load_retired_keys(path))
    assert stat.S_IMODE(retired_keys_path(path).stat().st_mode) == 0o600
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    await verifier(path).verify(old_token)
    new_token = TokenSigner(new, "iss", "aud").issue(uuid.uuid4(), uuid.uuid4())
    await verifier(path).verify(new_token)

    # A later rotation, past the keep window, prunes the first key.
    newest = rotate_signing_key(path, now=1_000.0 + 3601, keep_s=3600)
    assert [k.kid for k in load_retired_keys(path)] == [new.kid]
    with pytest.raises(NotAuthenticated):
        await verifier(path).verify(old_token)
    await verifier(path).verify(new_token)
    assert load_or_create_signing_key(path).kid == newest.kid
