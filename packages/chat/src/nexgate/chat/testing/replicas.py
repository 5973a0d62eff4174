"""Real api processes (granian) on 127.0.0.1 over one PostgreSQL and Redis: the chat's replicas."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from nexgate.kernel.settings import PlatformSettings


def settings_env(settings: PlatformSettings) -> dict[str, str]:
    env: dict[str, str] = {}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        if isinstance(value, list | dict):
            env[f"NEXGATE_{name.upper()}"] = json.dumps(value)
        elif isinstance(value, bool):
            env[f"NEXGATE_{name.upper()}"] = "true" if value else "false"
        else:
            env[f"NEXGATE_{name.upper()}"] = str(value)
    return env


def _die_with_parent() -> None:
    """Linux: the replica gets SIGKILL when the test process dies (no orphaned servers)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Replica:
    port: int
    process: subprocess.Popen[bytes]
    #: The process's stderr (kept after exit for a failing test to show).
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def api_replicas(
    settings: PlatformSettings,
    count: int = 2,
    extra_env: Mapping[str, str] | None = None,
    start_timeout_s: float = 60.0,
) -> AsyncIterator[list[Replica]]:
    """``count`` api processes hosting ``settings.contexts``; stopped (and reaped) on exit."""
    env = {**os.environ, **settings_env(settings), **(extra_env or {})}
    replicas: list[Replica] = []
    try:
        for _ in range(count):
            port = free_port()
            log = tempfile.NamedTemporaryFile(prefix="nexgate-api-", suffix=".log", delete=False)  # noqa: SIM115
            process = subprocess.Popen(  # noqa: S603, ASYNC220 (own interpreter; starts in ms)
                [
                    sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
                    "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--backpressure", "4096",
                    "--log-level", "warning", "nexgate.api.asgi:create_app",
                ],
                env=env,
                stdout=log,
                # A file, not a pipe: a pipe nobody reads would block a chatty server.
                stderr=log,
                preexec_fn=_die_with_parent,
            )  # fmt: skip
            replicas.append(Replica(port, process, Path(log.name)))
        deadline = time.monotonic() + start_timeout_s
        async with httpx.AsyncClient() as http:
            for replica in replicas:
                while True:
                    if replica.process.poll() is not None:
                        raise RuntimeError(f"api replica exited: {replica.log.read_text()[-2000:]}")
                    with contextlib.suppress(httpx.HTTPError):
                        if (await http.get(f"{replica.base_url}/health/live", timeout=2)).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise TimeoutError("api replica did not start")
                    await asyncio.sleep(0.2)
        yield replicas
    finally:
        for replica in replicas:
            replica.process.terminate()
        for replica in replicas:
            try:
                replica.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                replica.process.kill()
                replica.process.wait()
            replica.log.unlink(missing_ok=True)
