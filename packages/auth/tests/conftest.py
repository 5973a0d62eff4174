"""Auth test support: cheap argon2 parameters, a known delivery key, and an HTTP helper."""

from __future__ import annotations

import base64
import os
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa

# Settings are read when the app is built, so these hold for every app a test builds.
TEST_DELIVERY_KEY = bytes(range(32))
os.environ.setdefault("NEXGATE_AUTH_ARGON2_TIME_COST", "1")
os.environ.setdefault("NEXGATE_AUTH_ARGON2_MEMORY_KIB", "1024")
os.environ.setdefault("NEXGATE_AUTH_ARGON2_PARALLELISM", "1")
os.environ.setdefault(
    "NEXGATE_AUTH_OTP_DELIVERY_KEYS",
    '{"test-1": "' + base64.urlsafe_b64encode(TEST_DELIVERY_KEY).decode() + '"}',
)
os.environ.setdefault("NEXGATE_AUTH_OTP_DELIVERY_KEY_ID", "test-1")

from nexgate.auth.adapters.crypto.secrets import AesGcmCodeCipher  # noqa: E402
from nexgate.auth.adapters.sql.models import tables  # noqa: E402
from nexgate.contracts.auth import OtpRequested  # noqa: E402

PASSWORD = "correct horse battery"
BASE = "/api/v1/auth"


def device(device_id: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"deviceId": device_id or f"device-{uuid.uuid4().hex}", "platform": "android", **extra}


def decrypt(message: OtpRequested) -> str:
    cipher = AesGcmCodeCipher({"test-1": TEST_DELIVERY_KEY}, "test-1")
    return cipher.decrypt(message.key_id, message.code_ciphertext, message.challenge_id)


@dataclass
class AuthClient:
    """The ``auth`` fixture: the app's client plus helpers (tests cannot import conftest)."""

    client: Any
    runtime: Any
    password = PASSWORD
    base = BASE
    device = staticmethod(device)
    decrypt = staticmethod(decrypt)

    async def outbox(self, tag: str | None = None) -> list[Any]:
        from nexgate.contracts import contract_for

        async with self.runtime.database().sessions() as session:
            rows = (await session.execute(sa.select(tables.outbox.c.tag, tables.outbox.c.payload))).all()
        return [msgspec.json.decode(p, type=contract_for(t)) for t, p in rows if tag is None or t == tag]

    async def code_for(self, challenge_id: str) -> str:
        """The code, as notifications would read it: from the encrypted outbox message."""
        found = [m for m in await self.outbox(OtpRequested.tag()) if str(m.challenge_id) == challenge_id]
        assert found, "no OTP message for this challenge"
        return decrypt(found[-1])

    async def register(self, **body: Any) -> Any:
        body.setdefault("password", PASSWORD)
        body.setdefault("displayName", "Amina")
        return await self.client.post(f"{BASE}/registrations", json=body)

    async def verify(self, challenge_id: str, code: str, dev: dict[str, Any] | None = None) -> Any:
        return await self.client.post(
            f"{BASE}/registrations/{challenge_id}/verify", json={"code": code, "device": dev or device()}
        )

    async def signed_up(self, dev: dict[str, Any] | None = None, **body: Any) -> dict[str, Any]:
        """A verified account; returns the verify answer (account, session, tokens)."""
        if "email" not in body and "phone" not in body:
            body["email"] = f"user-{uuid.uuid4().hex[:10]}@example.com"
        started = await self.register(**body)
        assert started.status_code == 202, started.text
        challenge_id = started.json()["challengeId"]
        verified = await self.verify(challenge_id, await self.code_for(challenge_id), dev)
        assert verified.status_code == 201, verified.text
        return {**verified.json(), "identifier": body.get("email") or body.get("phone")}

    @staticmethod
    def bearer(signed: dict[str, Any]) -> dict[str, str]:
        return {"Authorization": f"Bearer {signed['accessToken']}"}

    async def login(
        self, identifier: str, password: str = PASSWORD, dev: dict[str, Any] | None = None, **extra: Any
    ) -> Any:
        return await self.client.post(
            f"{BASE}/login",
            json={"identifier": identifier, "password": password, "device": dev or device(), **extra},
        )


@pytest.fixture
def auth(client, runtime) -> AuthClient:
    return AuthClient(client, runtime)


# -- the fake OpenID provider (fake_oidc.py, loaded by path: test directories are not packages) --


def _load_fake_oidc() -> Any:
    import importlib.util
    import sys
    from pathlib import Path

    name = "nexgate_auth_tests_fake_oidc"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("fake_oidc.py"))
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


fake_oidc = _load_fake_oidc()


@pytest.fixture
async def google_idp() -> Any:
    """Google style fake provider (two issuer forms) served on 127.0.0.1 at an ephemeral port."""
    async with fake_oidc.serve(fake_oidc.FakeOidcProvider("google")) as provider:
        yield provider


@pytest.fixture
async def apple_idp() -> Any:
    """Apple style fake provider (SHA-256 nonce, private-relay emails) on an ephemeral port."""
    async with fake_oidc.serve(fake_oidc.FakeOidcProvider("apple")) as provider:
        yield provider


@pytest.fixture
async def oidc_auth(settings, contexts, runtime, google_idp, apple_idp, monkeypatch, tmp_path) -> Any:
    """``auth`` on an app configured with both fake providers (Google style and Apple style)."""
    import json

    from litestar.testing import AsyncTestClient

    from nexgate.api.asgi import create_app

    key_file = tmp_path / "apple-client-secret.p8"
    key_file.write_bytes(apple_idp.secret_key.as_pem(private=True))
    providers = {
        "google": {
            "issuers": list(google_idp.issuers),
            "discovery_url": google_idp.discovery_url,
            "client_ids": list(google_idp.client_ids),
            "client_secret": google_idp.client_secret,
        },
        "apple": {
            "issuers": list(apple_idp.issuers),
            "discovery_url": apple_idp.discovery_url,
            "client_ids": list(apple_idp.client_ids),
            "hashed_nonce": True,
            "private_relay_domain": fake_oidc.APPLE_RELAY_DOMAIN,
            "client_secret_jwt": {
                "team_id": apple_idp.team_id,
                "key_id": apple_idp.secret_key_id,
                "private_key_file": str(key_file),
                "audience": apple_idp.issuers[0],
            },
        },
    }
    monkeypatch.setenv("NEXGATE_AUTH_OIDC_PROVIDERS", json.dumps(providers))
    app = create_app(settings, contexts=list(contexts.values()))
    async with AsyncTestClient(app, raise_server_exceptions=False) as test_client:
        yield AuthClient(test_client, runtime)
