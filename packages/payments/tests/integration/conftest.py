"""A live api on uvicorn (so providers reach its callbacks over real HTTP) and fake providers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from nexgate.payments.testing.fake_daraja import FakeDaraja, free_port, serve
from nexgate.payments.testing.fake_selcom import FakeSelcom
from nexgate.payments.testing.fake_tembo import FakeTembo

CALLBACK_TOKEN = "test-callback-token-0123456789"


@dataclass
class Live:
    http: httpx.AsyncClient
    daraja: FakeDaraja
    base_url: str
    daraja_url: str
    app: object = None
    selcom: FakeSelcom | None = None
    tembo: FakeTembo | None = None
    selcom_url: str = ""
    tembo_url: str = ""

    def app_provider(self, name: str):
        """The provider instance the running app uses (built from the same settings)."""
        from nexgate.payments.adapters.providers import build_selcom
        from nexgate.payments.settings import PaymentsSettings

        assert name == "selcom"
        return build_selcom(PaymentsSettings())

    @property
    def selcom_callback(self) -> str:
        return f"{self.base_url}/api/v1/payments/callbacks/selcom/{CALLBACK_TOKEN}"

    @property
    def tembo_callback(self) -> str:
        return f"{self.base_url}/api/v1/payments/callbacks/tembo/{CALLBACK_TOKEN}"

    def payout_callback(self, provider: str) -> str:
        return f"{self.base_url}/api/v1/payments/callbacks/{provider}-payout/{CALLBACK_TOKEN}"

    @property
    def mpesa_callback(self) -> str:
        return f"{self.base_url}/api/v1/payments/callbacks/mpesa/{CALLBACK_TOKEN}"

    @property
    def b2c_result(self) -> str:
        return f"{self.base_url}/api/v1/payments/callbacks/mpesa-b2c/{CALLBACK_TOKEN}"


@pytest.fixture
async def live(settings, contexts, monkeypatch) -> AsyncIterator[Live]:
    async with _live(settings, contexts, monkeypatch, {}) as running:
        yield running


@pytest.fixture
async def sandbox_live(settings, contexts, monkeypatch) -> AsyncIterator[Live]:
    """The api with the sandbox provider on (as `just dev` has it), answering in 50 ms."""
    async with _live(
        settings, contexts, monkeypatch, {"SANDBOX": "true", "SANDBOX_DELAY_S": "0.05"}
    ) as running:
        yield running


@contextlib.asynccontextmanager
async def _live(settings, contexts, monkeypatch, extra: dict[str, str]) -> AsyncIterator[Live]:
    from nexgate.api.asgi import create_app

    fake = FakeDaraja()
    selcom = FakeSelcom()
    tembo = FakeTembo()
    async with (
        serve(fake.app()) as daraja_url,
        serve(selcom.app()) as selcom_url,
        serve(tembo.app()) as tembo_url,
    ):
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
            "MPESA_B2C_SHORTCODE": fake.b2c_shortcode,
            "MPESA_INITIATOR_NAME": fake.initiator_name,
            "MPESA_INITIATOR_PASSWORD": fake.initiator_password,
            "MPESA_CERTIFICATE_PEM": fake.certificate_pem,
            "SELCOM_BASE_URL": selcom_url,
            "SELCOM_API_KEY": selcom.api_key,
            "SELCOM_API_SECRET": selcom.api_secret,
            "SELCOM_VENDOR": selcom.vendor,
            "SELCOM_PIN": selcom.pin,
            "TEMBO_BASE_URL": tembo_url,
            "TEMBO_ACCOUNT_ID": tembo.account_id,
            "TEMBO_SECRET_KEY": tembo.secret_key,
            "TEMBO_PAYOUT_ACCOUNT_NO": tembo.payout_account,
            # The withdrawal tests fund wallets directly, from no number: review is tested on its own.
            "WITHDRAWAL_REVIEW_UNVERIFIED": "false",
            # ... and funded users have no registration in payments' replica: tested on its own too.
            "YOUNG_ACCOUNT_DAYS": "0",
            **extra,
        }.items():
            monkeypatch.setenv(f"NEXGATE_PAYMENTS_{name}", value)
        app = create_app(settings, contexts=list(contexts.values()))
        async with serve(app, port) as base_url, httpx.AsyncClient(base_url=base_url, timeout=20) as http:
            try:
                yield Live(
                    http,
                    fake,
                    base_url,
                    daraja_url,
                    app,
                    selcom,
                    tembo,
                    selcom_url=selcom_url,
                    tembo_url=tembo_url,
                )
            finally:
                await fake.close()
                await selcom.close()
                await tembo.close()


@pytest.fixture
async def publish(settings, runtime, contexts):
    """A worker hosting payments' consumers on the real broker (no relay, no scheduler: the
    tests run the release job themselves); ``await publish(message)`` sends a contract to its
    producer's exchange, as that producer's relay would."""
    import msgspec

    from nexgate.kernel.messaging.relay import broker_publisher
    from nexgate.worker.app import build_worker

    worker = build_worker(settings, runtime=runtime, contexts=[contexts["payments"]])
    await worker.broker.start()
    await runtime.topology.declare(worker.broker)
    send = broker_publisher(worker.broker, runtime.naming)

    async def publish_one(message) -> None:
        await send(
            context=message.publisher_context(),
            tag=message.tag(),
            message_id=str(message.id),
            body=msgspec.json.encode(message),
        )

    try:
        yield publish_one
    finally:
        await worker.stop()
