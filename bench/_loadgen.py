"""HTTP load generator used when ``wrk`` is not on PATH; runs in a process of its own.

``python bench/_loadgen.py URL --seconds 10 --connections 32 [--client raw|httpx]`` keeps
``connections`` keep-alive HTTP/1.1 connections busy with GET requests for ``seconds``
(each connection sends its next request when the previous response is in) and prints
one JSON line: requests answered 200, errors, elapsed seconds, requests/s, latency
percentiles.

``raw`` (the default) is a minimal asyncio-streams HTTP/1.1 client. ``httpx`` uses one
``httpx.AsyncClient``; on this 2-CPU machine it spent about 5 ms of CPU per request at
32 connections and capped near 200 req/s, so it measures itself rather than the server;
it is kept only for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit


async def _raw_connection(url: str, deadline: float, latencies: list[float], errors: list[int]) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        f"GET {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nUser-Agent: nexgate-bench\r\nAccept: */*\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            sent = time.perf_counter()
            if sent >= deadline:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            status = int(lines[0].split(b" ", 2)[1])
            length = None
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length is None:
                raise RuntimeError(
                    "response without Content-Length; this client does not read chunked bodies"
                )
            await reader.readexactly(length)
            if status == 200:
                latencies.append(time.perf_counter() - sent)
            else:
                errors[0] += 1
    finally:
        writer.close()


async def _httpx_connections(
    url: str, deadline: float, n: int, latencies: list[float], errors: list[int]
) -> None:
    import httpx

    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:

        async def worker() -> None:
            while True:
                sent = time.perf_counter()
                if sent >= deadline:
                    return
                try:
                    response = await client.get(url)
                except httpx.HTTPError:
                    errors[0] += 1
                    continue
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - sent)
                else:
                    errors[0] += 1

        await asyncio.gather(*(worker() for _ in range(n)))


async def load(url: str, seconds: float, connections: int, client: str) -> dict[str, object]:
    latencies: list[float] = []
    errors = [0]
    started = time.perf_counter()
    deadline = started + seconds
    if client == "httpx":
        await _httpx_connections(url, deadline, connections, latencies, errors)
    else:
        await asyncio.gather(*(_raw_connection(url, deadline, latencies, errors) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float | None:
        return (
            round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 3)
            if latencies
            else None
        )

    return {
        "tool": f"asyncio-{client}",
        "requests": len(latencies),
        "errors": errors[0],
        "seconds": round(elapsed, 3),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "latency_ms": {"p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99)},
        "connections": connections,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(load(args.url, args.seconds, args.connections, args.client))), flush=True)


if __name__ == "__main__":
    main()
