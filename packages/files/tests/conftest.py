"""Shared helpers of the files tests: generated media (``files_media``) and app settings."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

# Test helper modules live beside this file (no test package __init__ files: importlib mode).
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def files_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files settings for the app under test: the defaults plus a ``tiny`` purpose (1 KiB), a
    ``short_clip`` one (1 s), and an image pool of one that refuses at once when busy."""
    monkeypatch.setenv("NEXGATE_FILES_IMAGE_WORKERS", "1")
    monkeypatch.setenv("NEXGATE_FILES_IMAGE_QUEUE_WAIT_S", "0.2")
    monkeypatch.setenv(
        "NEXGATE_FILES_EXTRA_PURPOSES",
        '{"tiny": {"limits": {"image": 1024}},'
        ' "short_clip": {"limits": {"video": 10485760}, "max_duration_s": 1}}',
    )


@pytest.fixture
async def s3_client(settings, contexts, s3_server, monkeypatch: pytest.MonkeyPatch):
    """The composed app with the files context on the S3 adapter (real SeaweedFS)."""
    from litestar.testing import AsyncTestClient

    from nexgate.api.asgi import create_app

    run = uuid.uuid4().hex[:8]
    for name, value in {
        "STORAGE": "s3",
        "S3_ENDPOINT": s3_server.endpoint,
        "S3_ACCESS_KEY": s3_server.access_key,
        "S3_SECRET_KEY": s3_server.secret_key,
        "S3_PUBLIC_BUCKET": f"app-pub-{run}",
        "S3_PRIVATE_BUCKET": f"app-priv-{run}",
        "PUBLIC_BASE_URL": "https://cdn.example.test/media",
    }.items():
        monkeypatch.setenv(f"NEXGATE_FILES_{name}", value)
    app = create_app(settings, contexts=list(contexts.values()))
    async with AsyncTestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory):
    from files_clips import make_clips

    return make_clips(tmp_path_factory.mktemp("clips"))
