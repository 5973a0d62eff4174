"""`nexgate auth rotate-signing-key`: new tokens use the new key, old ones verify until retired."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager

from click.testing import CliRunner
from litestar.testing import AsyncTestClient

from nexgate.api.asgi import create_app
from nexgate.api.cli import main
from nexgate.kernel.security.keys import rotate_signing_key
from nexgate.kernel.settings import platform_settings


@asynccontextmanager
async def app_client(auth, settings, contexts):
    """A fresh api process: keys are loaded at start, as after a restart."""
    app = create_app(settings, contexts=list(contexts.values()))
    async with AsyncTestClient(app, raise_server_exceptions=False) as client:
        yield type(auth)(client, auth.runtime)


def kid_of(token: str) -> str:
    import base64
    import json

    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


async def test_rotated_key_verifies_until_retired(auth, settings, contexts, tmp_path, monkeypatch) -> None:
    settings = settings.model_copy(update={"signing_key_file": tmp_path / "keys" / "signing.json"})
    async with app_client(auth, settings, contexts) as before:
        old = await before.signed_up(email="rotate@example.com")
        old_kid = kid_of(old["accessToken"])

    monkeypatch.setenv("NEXGATE_SIGNING_KEY_FILE", str(settings.signing_key_file))
    platform_settings.cache_clear()
    try:
        result = await asyncio.to_thread(CliRunner().invoke, main, ["auth", "rotate-signing-key"])
    finally:
        platform_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "signing key rotated" in result.output

    async with app_client(auth, settings, contexts) as after:
        jwks = (await after.client.get("/.well-known/jwks.json")).json()["keys"]
        assert len(jwks) == 2
        assert old_kid in {k["kid"] for k in jwks}
        assert all("d" not in k for k in jwks)
        # The old token still works; new tokens carry the new key.
        assert (await after.client.get(f"{after.base}/me", headers=after.bearer(old))).status_code == 200
        fresh = (await after.login("rotate@example.com")).json()
        new_kid = kid_of(fresh["accessToken"])
        assert new_kid != old_kid
        assert new_kid in {k["kid"] for k in jwks}

    # Long after: the next rotation prunes the old key, and its tokens stop verifying.
    rotate_signing_key(settings.signing_key_file, now=time.time() + 10_000, keep_s=3600)
    async with app_client(auth, settings, contexts) as later:
        kids = {k["kid"] for k in (await later.client.get("/.well-known/jwks.json")).json()["keys"]}
        assert old_kid not in kids
        assert new_kid in kids
        refused = await later.client.get(f"{later.base}/me", headers=later.bearer(old))
        assert refused.status_code == 401
        assert refused.json()["code"] == "invalid_token"
        assert (await later.client.get(f"{later.base}/me", headers=later.bearer(fresh))).status_code == 200


async def test_rotation_refuses_a_window_shorter_than_a_token_lifetime(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("NEXGATE_SIGNING_KEY_FILE", str(tmp_path / "signing.json"))
    platform_settings.cache_clear()
    try:
        result = await asyncio.to_thread(
            CliRunner().invoke, main, ["auth", "rotate-signing-key", "--keep-retired-s", "60"]
        )
    finally:
        platform_settings.cache_clear()
    assert result.exit_code != 0
    assert not (tmp_path / "signing.json").exists()
