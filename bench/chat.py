"""Chat fan-out across two api processes, against a bare Redis pub/sub round trip.

Two real api processes (granian, chat context, a scratch database migrated here) run on
127.0.0.1. Sender sockets connect to process A, recipient sockets to process B. Each sender
sends its share of a fixed number of messages as ``send`` frames (the next one after the
previous ack); a message counts when its ``message.created`` event reaches the recipient's
socket on B: stored in PostgreSQL (seq, the per-user event log, the outbox) and fanned out
through Redis pub/sub to the other process.

- ``ratio``: end-to-end messages/s divided by bare Redis pub/sub messages/s (publish on one
  connection, receive on another, same payload size, same concurrency), measured in the same run.
- ``p50_ratio`` / ``p99_ratio``: fan-out latency (send frame written on A -> event read on B)
  divided by the bare Redis publish -> receive latency at the same percentile.

Bounded: ``NEXGATE_BENCH_CHAT_MESSAGES`` (default 800) over ``NEXGATE_BENCH_CHAT_PAIRS``
(default 20) sender/recipient pairs; the per-user send limit is lifted in the two processes
(``NEXGATE_CHAT_SEND_LIMIT``) because one sender sends more than 20 in 10 s here. The measured
phase is cut at 60 s.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from typing import Any

from _services import bench_settings, delete_redis_prefix, drop_database, env_int

DESCRIPTION = "chat: send frame on api A -> recipient socket on api B, vs bare Redis pub/sub"
DATABASE = "nexgate_bench_chat"
C = "/api/v1/chat"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _redis_baseline(url: str, prefix: str, total: int, pairs: int, size: int) -> dict[str, float]:
    from redis.asyncio import Redis

    publisher, subscriber = Redis.from_url(url), Redis.from_url(url)
    pubsub = subscriber.pubsub()
    channels = [f"{prefix}baseline:{i}" for i in range(pairs)]
    await pubsub.subscribe(*channels)
    for _ in channels:
        await pubsub.get_message(timeout=5)
    latencies: list[float] = []
    sent_at: dict[str, float] = {}
    pad = "x" * size
    done = asyncio.Event()

    async def receive() -> None:
        while len(latencies) < total:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None:
                continue
            key = json.loads(message["data"])["k"]
            latencies.append(time.perf_counter() - sent_at[key])
        done.set()

    async def send(channel: str, count: int) -> None:
        for i in range(count):
            key = f"{channel}:{i}"
            sent_at[key] = time.perf_counter()
            await publisher.publish(channel, json.dumps({"k": key, "pad": pad}))

    receiver = asyncio.create_task(receive())
    started = time.perf_counter()
    share = total // pairs
    await asyncio.gather(*[send(channel, share) for channel in channels])
    await asyncio.wait_for(done.wait(), 30)
    elapsed = time.perf_counter() - started
    await receiver
    await pubsub.aclose()
    await publisher.aclose()
    await subscriber.aclose()
    return {
        "msgs_per_s": len(latencies) / elapsed,
        "p50_ms": _percentile(latencies, 0.5) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
    }


async def _chat(settings: Any, total: int, pairs: int) -> dict[str, Any]:
    import httpx

    from nexgate.chat.testing.replicas import api_replicas
    from nexgate.chat.testing.wsclient import WsClient
    from nexgate.kernel.security.keys import load_or_create_signing_key
    from nexgate.kernel.security.tokens import TokenSigner

    signer = TokenSigner(
        load_or_create_signing_key(settings.signing_key_file), settings.jwt_issuer, settings.jwt_audience
    )
    share = total // pairs
    users = [(uuid.uuid4(), uuid.uuid4()) for _ in range(pairs)]

    def headers(user: uuid.UUID) -> dict[str, str]:
        return {"Authorization": f"Bearer {signer.issue(user, uuid.uuid4())}"}

    async with api_replicas(
        settings, count=2, extra_env={"NEXGATE_LOG_LEVEL": "ERROR", "NEXGATE_CHAT_SEND_LIMIT": "1000000"}
    ) as (a, b):
        async with httpx.AsyncClient(base_url=a.base_url, timeout=30) as http:
            conversations = []
            for sender, recipient in users:
                opened = await http.post(
                    f"{C}/conversations", json={"participantIds": [str(recipient)]}, headers=headers(sender)
                )
                conversation_id = opened.json()["id"]
                accepted = await http.post(
                    f"{C}/conversations/{conversation_id}/accept", headers=headers(recipient)
                )
                assert accepted.status_code == 200, accepted.text
                conversations.append(conversation_id)

        senders = [await WsClient.connect("127.0.0.1", a.port, f"{C}/ws", headers(s)) for s, _ in users]
        recipients = [await WsClient.connect("127.0.0.1", b.port, f"{C}/ws", headers(r)) for _, r in users]
        for ws in senders + recipients:
            assert (await ws.receive_json())["type"] == "ready"

        sent_at: dict[str, float] = {}
        latencies: list[float] = []

        async def send_all(ws: WsClient, conversation_id: str, pair: int) -> None:
            for i in range(share):
                cmid = f"p{pair}-{i}"
                sent_at[cmid] = time.perf_counter()
                await ws.send_json(
                    {
                        "type": "send",
                        "conversationId": conversation_id,
                        "clientMessageId": cmid,
                        "text": f"m{i}",
                    }
                )
                while (frame := await ws.receive_json(30))["type"] != "ack":
                    if frame["type"] == "error":
                        raise RuntimeError(frame)

        async def receive_all(ws: WsClient) -> None:
            got = 0
            while got < share:
                frame = await ws.receive_json(30)
                if frame["type"] == "event" and frame["event"] == "message.created":
                    latencies.append(time.perf_counter() - sent_at[frame["data"]["clientMessageId"]])
                    got += 1

        started = time.perf_counter()
        try:
            await asyncio.wait_for(
                asyncio.gather(
                    *[
                        send_all(ws, c, i)
                        for i, (ws, c) in enumerate(zip(senders, conversations, strict=True))
                    ],
                    *[receive_all(ws) for ws in recipients],
                ),
                60,
            )
        except Exception:
            print(a.log.read_text()[-4000:], file=sys.stderr)
            raise
        elapsed = time.perf_counter() - started
        for ws in senders + recipients:
            await ws.close()
    return {
        "messages": len(latencies),
        "msgs_per_s": len(latencies) / elapsed,
        "p50_ms": _percentile(latencies, 0.5) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
    }


def run() -> dict[str, object]:
    from nexgate.chat.bootstrap import context as chat_spec
    from nexgate.kernel.sql.migrations import upgrade
    from nexgate.kernel.testing.services import recreate_database

    total = env_int("NEXGATE_BENCH_CHAT_MESSAGES", 800)
    pairs = min(env_int("NEXGATE_BENCH_CHAT_PAIRS", 20), total)
    settings = bench_settings(DATABASE, contexts="chat")

    async def prepare() -> None:
        await recreate_database(settings.database_url)
        await upgrade(settings.database_url, [chat_spec.migrations])

    async def cleanup() -> None:
        await drop_database(settings.database_url)
        await delete_redis_prefix(settings.redis_url, settings.redis_prefix)

    asyncio.run(prepare())
    try:
        chat = asyncio.run(_chat(settings, total, pairs))
        redis = asyncio.run(_redis_baseline(settings.redis_url, settings.redis_prefix, total, pairs, 400))
    finally:
        asyncio.run(cleanup())
    return {
        "setup": {"messages": total, "pairs": pairs, "processes": 2, "server": "granian"},
        "chat": {k: round(v, 3) for k, v in chat.items()},
        "redis_pubsub": {k: round(v, 3) for k, v in redis.items()},
        "ratio": round(chat["msgs_per_s"] / redis["msgs_per_s"], 4),
        "ratio_definition": "chat msgs/s (send frame on A -> event on B, stored) / bare Redis pub/sub msgs/s",
        "p50_ratio": round(chat["p50_ms"] / redis["p50_ms"], 2),
        "p99_ratio": round(chat["p99_ms"] / redis["p99_ms"], 2),
        "latency_ratio_definition": "chat fan-out latency / bare Redis publish->receive latency (same pct)",
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
