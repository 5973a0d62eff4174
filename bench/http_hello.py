"""Request rate of the composed api against a bare Litestar app, same server, same machine.

Both apps are served by granian (1 worker, ``--interface asgi``) in subprocesses on free
ports, at the same time:

- composed: ``granian --interface asgi --factory nexgate.api.asgi:create_app`` with
  ``NEXGATE_CONTEXTS=skeleton``, ``NEXGATE_EMBEDDED_WORKER=false``,
  ``NEXGATE_LOG_LEVEL=WARNING`` and a freshly migrated throwaway database
  (``nexgate_bench_http``); the route is ``GET /health/live`` (``{"status": "ok"}``), so
  every request crosses the full middleware stack (request id, metrics, principal,
  idempotency, before-send hook) but touches neither PostgreSQL nor Redis;
- bare: ``bench/bare_app.py``, one ``GET /hello`` returning ``{"status": "ok"}``.

The load generator is ``wrk`` when it is on PATH (``wrk -t1 -c<connections>``), otherwise
bench/_loadgen.py (a minimal asyncio HTTP/1.1 keep-alive client; its ``httpx`` mode is
kept for comparison only, as httpx saturates a CPU at ~200 req/s here), always in a
process of its own. Each server is warmed up, then measured twice, alternating
composed/bare/composed/bare.

Ratio = composed requests/s / bare requests/s (means of the two runs; higher is better,
1.0 would mean the platform's stack costs nothing per request).

Knobs: NEXGATE_BENCH_HTTP_SECONDS (10 per run), NEXGATE_BENCH_HTTP_WARMUP (3),
NEXGATE_BENCH_HTTP_CONNECTIONS (32), NEXGATE_BENCH_HTTP_TOOL (auto | wrk | raw | httpx;
auto = wrk if on PATH, else raw).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _services import bench_settings, delete_redis_prefix, drop_database, env_float, env_int, scratch_dir

DESCRIPTION = "composed api GET /health/live req/s vs bare Litestar GET /hello req/s (granian, 1 worker)"
DATABASE = "nexgate_bench_http"
HERE = Path(__file__).resolve().parent


def _granian() -> str:
    beside = Path(sys.executable).parent / "granian"
    found = str(beside) if beside.exists() else shutil.which("granian")
    if not found:
        raise RuntimeError("granian is not installed (it comes with nexgate-api)")
    return found


def _free_port() -> int:
    from nexgate.kernel.testing.services import free_port

    return free_port()


class Server:
    """One granian process (in a session of its own, so its workers stop with it)."""

    def __init__(self, label: str, target: list[str], env: dict[str, str], logs: Path) -> None:
        self.label = label
        self.port = _free_port()
        self.log_path = logs / f"{label}.log"
        self._log = self.log_path.open("wb")
        command = [
            _granian(), "--interface", "asgi", "--workers", "1", "--host", "127.0.0.1",
            "--port", str(self.port), "--log-level", "warning", "--no-access-log", *target,
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            command, cwd=HERE, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self, path: str, timeout_s: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} server exited:\n{self.log_path.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(self.url(path), timeout=2) as response:
                    return {
                        "status": response.status,
                        "body": response.read().decode(),
                        "headers": sorted(k.lower() for k in response.headers),
                    }
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self.label} server not ready:\n{self.log_path.read_text()[-4000:]}"
                    ) from exc
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk(url: str, seconds: float, connections: int) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    assert wrk is not None
    out = subprocess.run(
        [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", url],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+),", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    latency = {}
    for pct, value, unit in re.findall(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE):
        latency[f"p{pct}"] = round(float(value) * _UNITS[unit], 3)
    return {
        "tool": "wrk",
        "requests": int(total.group(1)) if total else None,
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(0) if errors else None,
        "requests_per_second": rps,
        "latency_ms": latency,
        "connections": connections,
    }


def _asyncio(client: str) -> Callable[[str, float, int], dict[str, Any]]:
    def load(url: str, seconds: float, connections: int) -> dict[str, Any]:
        out = subprocess.run(
            [
                sys.executable, str(HERE / "_loadgen.py"), url, "--seconds", str(seconds),
                "--connections", str(connections), "--client", client,
            ],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
        ).stdout  # fmt: skip
        return json.loads(out.strip().splitlines()[-1])

    return load


def _server_env(settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXGATE_")}
    env.update(
        {
            "NEXGATE_CONTEXTS": "skeleton",
            "NEXGATE_EMBEDDED_WORKER": "false",
            "NEXGATE_LOG_LEVEL": "WARNING",
            "NEXGATE_LOG_FORMAT": "json",
            "NEXGATE_DATABASE_URL": settings.database_url,
            "NEXGATE_NOTIFICATIONS_DATABASE_URL": settings.notifications_database_url,
            "NEXGATE_REDIS_URL": settings.redis_url,
            "NEXGATE_REDIS_PREFIX": settings.redis_prefix,
            "NEXGATE_RABBITMQ_URL": settings.rabbitmq_url,
            "NEXGATE_MESSAGING_NAMESPACE": settings.messaging_namespace,
            "NEXGATE_SIGNING_KEY_FILE": str(settings.signing_key_file),
            "NEXGATE_DATA_DIR": str(settings.data_dir),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        }
    )
    return env


def run() -> dict[str, Any]:
    from nexgate.kernel.sql.migrations import upgrade
    from nexgate.kernel.testing.services import recreate_database
    from nexgate.skeleton.bootstrap import context as skeleton_spec

    seconds = env_float("NEXGATE_BENCH_HTTP_SECONDS", 10.0)
    warmup = env_float("NEXGATE_BENCH_HTTP_WARMUP", 3.0)
    connections = env_int("NEXGATE_BENCH_HTTP_CONNECTIONS", 32)
    tool = os.environ.get("NEXGATE_BENCH_HTTP_TOOL", "auto")
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "raw"
    if tool not in ("wrk", "raw", "httpx"):
        raise ValueError(f"NEXGATE_BENCH_HTTP_TOOL={tool!r}; expected auto, wrk, raw or httpx")
    load = _wrk if tool == "wrk" else _asyncio(tool)
    settings = bench_settings(DATABASE)
    logs = scratch_dir("nexgate-bench-http-")
    servers: list[Server] = []

    async def prepare() -> None:
        await recreate_database(settings.database_url)
        await upgrade(settings.database_url, [skeleton_spec.migrations])

    asyncio.run(prepare())
    try:
        env = _server_env(settings)
        composed = Server("composed", ["--factory", "nexgate.api.asgi:create_app"], env, logs)
        servers.append(composed)
        bare = Server("bare", ["bare_app:app"], env, logs)
        servers.append(bare)
        targets = {"composed": (composed, "/health/live"), "bare": (bare, "/hello")}
        responses = {name: server.wait_ready(path) for name, (server, path) in targets.items()}
        print(f"   load generator: {tool}, {connections} connections, {seconds}s per run", flush=True)
        for server, path in targets.values():
            load(server.url(path), warmup, connections)
        runs: dict[str, list[dict[str, Any]]] = {"composed": [], "bare": []}
        for _ in range(2):
            for name, (server, path) in targets.items():
                result = load(server.url(path), seconds, connections)
                runs[name].append(result)
                print(
                    f"   {name:8} {path:13} {result['requests_per_second']:>9} req/s "
                    f"(p50 {result['latency_ms'].get('p50')} ms, errors {result['errors']})",
                    flush=True,
                )
    finally:
        for server in servers:
            server.stop()

        async def cleanup() -> None:
            await drop_database(settings.database_url)
            await delete_redis_prefix(settings.redis_url, settings.redis_prefix)

        asyncio.run(cleanup())

    means = {
        name: statistics.mean(r["requests_per_second"] for r in results) for name, results in runs.items()
    }
    return {
        "parameters": {
            "server": "granian --interface asgi --workers 1",
            "load_generator": tool,
            "connections": connections,
            "seconds_per_run": seconds,
            "warmup_seconds": warmup,
            "order": "warm-up composed, warm-up bare, then composed, bare, composed, bare",
            "responses": responses,
        },
        "measurements": {
            "composed_runs": runs["composed"],
            "composed_mean_requests_per_second": round(means["composed"], 1),
            "bare_runs": runs["bare"],
            "bare_mean_requests_per_second": round(means["bare"], 1),
        },
        "ratio": round(means["composed"] / means["bare"], 4),
        "ratio_definition": "composed GET /health/live req/s / bare Litestar GET /hello req/s",
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, default=str))
