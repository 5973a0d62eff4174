"""Codes reach the real RabbitMQ only encrypted; secrets never reach the logs."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator

import aio_pika
import msgspec
import pytest
import sqlalchemy as sa
from faststream.rabbit import RabbitRouter
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.auth.adapters.sql.models import tables
from nexgate.auth.bootstrap import context as auth_context
from nexgate.contracts.auth import OtpRequested, SessionRevoked, UserRegistered
from nexgate.kernel.messaging.consumer import consumer
from nexgate.kernel.messaging.relay import OutboxRelay, broker_publisher
from nexgate.worker.app import Worker, build_worker


@pytest.fixture
async def worker(settings, runtime) -> AsyncIterator[Worker]:
    worker = build_worker(settings, runtime=runtime, contexts=[auth_context])
    yield worker
    await worker.stop()


async def bound_queue(
    channel: aio_pika.abc.AbstractChannel, runtime, *tags: str
) -> aio_pika.abc.AbstractQueue:
    exchange = await channel.declare_exchange(
        runtime.naming.exchange("auth"), aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(f"{runtime.naming.namespace}auth.test-listener", exclusive=True)
    for tag in tags:
        await queue.bind(exchange, routing_key=tag)
    return queue


async def next_message(
    queue: aio_pika.abc.AbstractQueue, timeout: float = 15.0
) -> aio_pika.abc.AbstractIncomingMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = await queue.get(no_ack=True, fail=False)
        if message is not None:
            return message
        await asyncio.sleep(0.05)
    raise AssertionError("no message arrived")


async def test_otp_published_encrypted_and_absent_from_db_outbox_logs(
    auth, runtime, settings, worker
) -> None:
    connection = await aio_pika.connect(settings.rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        queue = await bound_queue(
            channel, runtime, OtpRequested.tag(), SessionRevoked.tag(), UserRegistered.tag()
        )
        started = await auth.register(phone="0754 321 987", displayName="Baraka")
        assert started.status_code == 202, started.text
        challenge_id = started.json()["challengeId"]

        await worker.broker.start()
        await worker.start_background()

        delivered = await next_message(queue)
        assert delivered.routing_key == OtpRequested.tag()
        otp = msgspec.json.decode(delivered.body, type=OtpRequested)
        assert str(otp.challenge_id) == challenge_id
        assert (otp.purpose, otp.channel, otp.destination, otp.key_id) == (
            "registration",
            "phone",
            "+255754321987",
            "test-1",
        )
        code = auth.decrypt(otp)
        assert len(code) == 6
        assert code.isdigit()
        assert code.encode() not in delivered.body

        # The decrypted code completes the registration over HTTP.
        dev = auth.device()
        verified = await auth.verify(challenge_id, code, dev)
        assert verified.status_code == 201, verified.text
        registered = msgspec.json.decode((await next_message(queue)).body, type=UserRegistered)
        assert str(registered.user_id) == verified.json()["account"]["id"]

        # A reused refresh token revokes the session; consumers hear of it through the broker.
        first = verified.json()["refreshToken"]
        headers = {"X-Device-Id": dev["deviceId"]}
        url = f"{auth.base}/tokens/refresh"
        second = (await auth.client.post(url, json={"refreshToken": first}, headers=headers)).json()[
            "refreshToken"
        ]
        await auth.client.post(url, json={"refreshToken": second}, headers=headers)
        reused = await auth.client.post(url, json={"refreshToken": first}, headers=headers)
        assert reused.status_code == 401
        assert reused.json()["code"] == "refresh_token_reused"
        revoked = msgspec.json.decode((await next_message(queue)).body, type=SessionRevoked)
        assert (str(revoked.session_id), revoked.reason) == (
            verified.json()["session"]["id"],
            "refresh_token_reused",
        )


async def test_user_registered_reaches_real_consumer_once_after_relay_restart(
    auth, runtime, settings
) -> None:
    """The relay dies after publishing and before marking; its restart publishes again; one effect."""
    # A real consumer as profiles will have one: durable queue, inbox claim, retries (kernel `consumer`).
    effects: list[uuid.UUID] = []
    router = RabbitRouter()

    @consumer(router, runtime.consumer_wiring("auth", tables), name="test_build_profile")
    async def build_profile(message: UserRegistered, session: AsyncSession) -> None:
        effects.append(message.user_id)

    worker = build_worker(settings, runtime=runtime, contexts=[auth_context])
    worker.broker.include_router(router)
    connection = await aio_pika.connect(settings.rabbitmq_url)
    try:
        channel = await connection.channel()
        wire = await bound_queue(channel, runtime, UserRegistered.tag())  # counts copies on the wire
        signed = await auth.signed_up(email="relay-restart@example.com")
        user_id = uuid.UUID(signed["account"]["id"])
        await worker.broker.start()  # consumers only: this test drives the relay by hand

        marks = 0

        async def die_on_second_mark() -> None:
            nonlocal marks
            marks += 1
            if marks == 2:
                raise RuntimeError("relay process killed after publishing, before marking")

        # One row per batch: the OTP row goes out and is marked; user_registered goes out, then the crash.
        publish = broker_publisher(worker.broker, runtime.naming)
        crashing = OutboxRelay(worker.outbox_sources, publish, batch_size=1, before_mark=die_on_second_mark)
        with pytest.raises(RuntimeError, match="killed"):
            await crashing.drain()
        async with runtime.database().sessions() as session:
            pending = (
                (
                    await session.execute(
                        sa.select(tables.outbox.c.tag).where(tables.outbox.c.published_at.is_(None))
                    )
                )
                .scalars()
                .all()
            )
        assert pending == [UserRegistered.tag()]

        restarted = OutboxRelay(worker.outbox_sources, publish)
        assert await restarted.drain() == 1

        copies = [await next_message(wire), await next_message(wire)]
        assert {m.message_id for m in copies} == {copies[0].message_id}  # the same message, twice
        deadline = time.monotonic() + 15
        while not effects:
            assert time.monotonic() < deadline, "the consumer never ran"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the second copy must arrive and be skipped
        async with runtime.database().sessions() as session:
            claimed = await session.scalar(sa.select(sa.func.count()).select_from(tables.inbox))
        assert effects == [user_id]
        assert claimed == 1
    finally:
        await connection.close()
        await worker.stop()


class Capture(logging.Handler):
    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._formatter = formatter

    def emit(self, record: logging.LogRecord) -> None:
        rendered = self._formatter.format(record) if self._formatter else record.getMessage()
        self.lines.append(f"{rendered} {record.__dict__!r}")


async def test_no_password_code_token_or_phone_in_logs(oidc_auth, google_idp) -> None:
    auth = oidc_auth
    root = logging.getLogger()
    capture = Capture(root.handlers[0].formatter if root.handlers else None)
    level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    secrets: list[str] = []
    try:
        password = "unique logged-never passphrase"
        new_password = "second never-logged passphrase"
        secrets += [password, new_password, "+255765432198", "765432198", "0765 432 198"]
        started = await auth.register(phone="0765 432 198", password=password)
        challenge_id = started.json()["challengeId"]
        code = await auth.code_for(challenge_id)
        dev = auth.device()
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        await auth.verify(challenge_id, wrong, dev)
        signed = (await auth.verify(challenge_id, code, dev)).json()
        bad_login = await auth.login("0765432198", "not the right one at all")
        assert bad_login.status_code == 401
        login_response = await auth.login("+255765432198", password, dev)
        assert login_response.status_code == 200, login_response.text
        login = login_response.json()
        rotated = await auth.client.post(
            f"{auth.base}/tokens/refresh",
            json={"refreshToken": login["refreshToken"]},
            headers={"X-Device-Id": dev["deviceId"]},
        )
        assert rotated.status_code == 200, rotated.text
        reset = await auth.client.post(f"{auth.base}/password-resets", json={"identifier": "0765432198"})
        reset_id = reset.json()["challengeId"]
        reset_code = await auth.code_for(reset_id)
        done = await auth.client.post(
            f"{auth.base}/password-resets/{reset_id}/complete",
            json={"code": reset_code, "newPassword": new_password},
        )
        assert done.status_code == 204
        # Reauthentication by code, and OpenID sign-ins: ID tokens, nonces, codes, link tokens.
        fresh = (await auth.login("+255765432198", new_password, dev)).json()
        me = {"Authorization": f"Bearer {fresh['accessToken']}"}
        sent = await auth.client.post(f"{auth.base}/me/reauthenticate/challenges", json={}, headers=me)
        reauth_code = await auth.code_for(sent.json()["challengeId"])
        reauthed = await auth.client.post(
            f"{auth.base}/me/reauthenticate",
            json={"challengeId": sent.json()["challengeId"], "code": reauth_code},
            headers=me,
        )
        assert reauthed.status_code == 204
        nonce = (await auth.client.post(f"{auth.base}/oauth/google/nonces")).json()["nonce"]
        id_token = google_idp.mint(nonce=nonce, email="logged-never@gmail.example")
        oidc = await auth.client.post(
            f"{auth.base}/oauth/google/sign-in", json={"nonce": nonce, "idToken": id_token, "device": dev}
        )
        assert oidc.status_code == 201, oidc.text
        verifier = "v" * 43 + uuid.uuid4().hex
        code_nonce = (await auth.client.post(f"{auth.base}/oauth/google/nonces")).json()["nonce"]
        auth_code = google_idp.authorize(
            redirect_uri="https://app.example/cb",
            code_challenge=google_idp.s256(verifier),
            nonce=code_nonce,
            email="logged-never@gmail.example",
        )
        linking = await auth.client.post(
            f"{auth.base}/oauth/google/sign-in",
            json={
                "nonce": code_nonce,
                "code": auth_code,
                "codeVerifier": verifier,
                "redirectUri": "https://app.example/cb",
                "device": dev,
            },
        )
        assert linking.json()["code"] == "account_link_required", linking.text
        secrets += [
            reauth_code,
            nonce,
            id_token,
            oidc.json()["accessToken"],
            oidc.json()["refreshToken"],
            code_nonce,
            auth_code,
            verifier,
            linking.json()["extra"]["linkToken"],
            "logged-never@gmail.example",
            code,
            wrong,
            reset_code,
            signed["accessToken"],
            signed["refreshToken"],
            login["accessToken"],
            login["refreshToken"],
            rotated.json()["refreshToken"],
            dev["deviceId"],
        ]
    finally:
        root.removeHandler(capture)
        root.setLevel(level)
    text = "\n".join(capture.lines)
    assert "http.request" in text  # the capture really saw the flow's logs
    leaked = [s for s in secrets if s in text]
    assert not leaked, f"found in logs: {leaked}"


async def test_dev_deliverer_writes_codes_to_a_file_in_development_only(
    auth, runtime, settings, tmp_path
) -> None:
    from dataclasses import replace

    from nexgate.auth.adapters.messaging.router import build_router, dev_codes_file

    # In test and production no deliverer is subscribed; enabling it in production refuses to start.
    assert build_router(runtime).subscribers == []
    prod = replace(runtime, settings=settings.model_copy(update={"environment": "production"}))
    os.environ["NEXGATE_AUTH_DEV_CODE_DELIVERY"] = "true"
    try:
        with pytest.raises(RuntimeError, match="production"):
            build_router(prod)
    finally:
        del os.environ["NEXGATE_AUTH_DEV_CODE_DELIVERY"]

    dev_settings = settings.model_copy(update={"environment": "development", "data_dir": tmp_path})
    dev = replace(runtime, settings=dev_settings)
    worker = build_worker(dev_settings, runtime=dev, contexts=[auth_context])
    try:
        started = await auth.register(phone="0754 321 988", displayName="Neema")
        challenge_id = started.json()["challengeId"]
        await worker.broker.start()
        await worker.start_background()
        codes = dev_codes_file(dev)
        deadline = time.monotonic() + 15
        while not (codes.exists() and codes.read_text()):
            assert time.monotonic() < deadline, "no code was delivered"
            await asyncio.sleep(0.05)
        [line] = codes.read_text().splitlines()
        assert "registration phone +255754321988" in line
        code = line.rsplit(" ", 1)[1]
        verified = await auth.verify(challenge_id, code, auth.device())
        assert verified.status_code == 201, verified.text
    finally:
        await worker.stop()
