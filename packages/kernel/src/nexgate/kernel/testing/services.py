"""Throwaway resources on the real services: databases, Redis dbs, broker names, S3."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from nexgate.kernel.messaging.consumer import Topology


async def recreate_database(url: str) -> None:
    target = make_url(url)
    admin = create_async_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            await conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    finally:
        await admin.dispose()


async def drop_database(url: str) -> None:
    target = make_url(url)
    admin = create_async_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    finally:
        await admin.dispose()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


async def drop_orphan_test_databases(server_url: str) -> None:
    """Drop test databases left by runs that died (their pid, the name's suffix, is gone)."""
    admin = create_async_engine(f"{server_url}/postgres", isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            names = (
                await conn.execute(
                    sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'nexgate_test_%'")
                )
            ).scalars()
            for name in list(names):
                pid = name.removesuffix("_notifications").rsplit("_", 1)[-1]
                if pid.isdigit() and not _alive(int(pid)):
                    await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def truncate_schemas(url: str, schemas: Iterable[str]) -> None:
    """Empty every table of ``schemas`` except Alembic's version tables."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            rows = await conn.execute(
                sa.text(
                    "SELECT schemaname, tablename FROM pg_tables "
                    "WHERE schemaname = ANY(:schemas) AND tablename <> 'alembic_version'"
                ),
                {"schemas": list(schemas)},
            )
            names = [f'"{schema}"."{table}"' for schema, table in rows]
            if names:
                await conn.execute(sa.text(f"TRUNCATE {', '.join(names)} CASCADE"))
    finally:
        await engine.dispose()


async def delete_broker_names(url: str, topology: Topology, exchanges: Iterable[str]) -> None:
    """Delete a test's queues (with their retry and dead-letter queues) and exchanges."""
    connection = await aio_pika.connect(url, timeout=5)
    async with connection:
        channel = await connection.channel()
        for queue in topology.consumer_queues:
            names = [
                queue,
                topology.dead_letter_queue(queue).name,
                *(q.name for q in topology.retry_queues(queue)),
            ]
            for name in names:
                await channel.queue_delete(name)
        for exchange in exchanges:
            await channel.exchange_delete(exchange)


def free_port(below: int = 50000) -> int:
    """A free TCP port; SeaweedFS adds 10000 for gRPC, so stay below ``below``."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port < below:
            return port


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # host:port, plain http
    access_key: str
    secret_key: str


@contextmanager
def seaweedfs(directory: Path) -> Iterator[S3Server]:
    """A real S3 server (SeaweedFS ``weed mini``) with SigV4 auth, for one test session."""
    weed = shutil.which("weed") or str(Path(os.sys.executable).parent / "weed")  # type: ignore[attr-defined]
    access_key, secret_key = "nexgate-test", "nexgate-test-secret"
    (directory / "s3.json").write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "test",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                    }
                ]
            }
        )
    )
    s3, master, volume, filer, admin = (free_port() for _ in range(5))
    log = (directory / "weed.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603 - fixed binary, arguments built here
        [
            weed, "mini", f"-dir={directory}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-s3.config={directory / 's3.json'}", f"-s3.port={s3}", f"-master.port={master}",
            f"-volume.port={volume}", f"-filer.port={filer}", f"-admin.port={admin}", "-admin.ui=false",
            "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{s3}/", timeout=1)
                break
            except urllib.error.HTTPError:  # 403 from S3: it is up and checking signatures
                break
            except OSError as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS did not start; see {directory / 'weed.log'}") from exc
                time.sleep(0.2)
        yield S3Server(f"127.0.0.1:{s3}", access_key, secret_key)
    finally:
        proc.kill()
        proc.wait()
        log.close()
