"""A live api on uvicorn (so providers reach its callbacks over real HTTP) and fake providers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from nexgate.payments.testing.fake_daraja import FakeDaraja, free_port, serve

CALLBACK_TOKEN = "test-callback-token-0123456789"


@dataclass
class Live:
    http: httpx.AsyncClient
    daraja: FakeDaraja
    base_url: str
    daraja_url: str

    @property
    def mpesa_callback(self) -> str:
        return f"{self.base_url}/api/v1/payments/callbacks/mpesa/{CALLBACK_TOKEN}"


@pytest.fixture
async def live(settings, contexts, monkeypatch) -> AsyncIterator[Live]:
    from nexgate.api.asgi import create_app

    fake = FakeDaraja()
    async with serve(fake.app()) as daraja_url:
        port = free_port()
        for name, value in {
            "MPESA_BASE_URL": daraja_url,
            "MPESA_CONSUMER_KEY": fake.consumer_key,
            "MPESA_CONSUMER_SECRET": fake.consumer_secret,
            "MPESA_PASSKEY": fake.passkey,
            "MPESA_SHORTCODE": fake.shortcode,
            "CALLBACK_BASE_URL": f"http://127.0.0.1:{port}",
            "CALLBACK_TOKEN": CALLBACK_TOKEN,
            "PROVIDER_TIMEOUT_S": "5",
        }.items():
            monkeypatch.setenv(f"NEXGATE_PAYMENTS_{name}", value)
        app = create_app(settings, contexts=list(contexts.values()))
        async with serve(app, port) as base_url, httpx.AsyncClient(base_url=base_url, timeout=20) as http:
            try:
                yield Live(http, fake, base_url, daraja_url)
            finally:
                await fake.close()
