"""The harness's S3 server is a real one: SigV4 is enforced, presigned URLs cannot be tampered with."""

from __future__ import annotations

import io
from datetime import timedelta

import httpx
import pytest
from minio import Minio
from minio.error import S3Error


def test_s3_server_checks_signatures(s3_server) -> None:
    client = Minio(s3_server.endpoint, s3_server.access_key, s3_server.secret_key, secure=False)
    client.make_bucket("harness")
    client.put_object("harness", "hello.txt", io.BytesIO(b"habari"), 6, content_type="text/plain")
    assert client.get_object("harness", "hello.txt").read() == b"habari"

    url = client.presigned_get_object("harness", "hello.txt", expires=timedelta(minutes=5))
    assert httpx.get(url).content == b"habari"
    assert httpx.get(url.replace("hello.txt", "hello.txT")).status_code == 403
    assert httpx.get(f"http://{s3_server.endpoint}/harness/hello.txt").status_code == 403

    stranger = Minio(s3_server.endpoint, "nobody", "wrong-secret-key", secure=False)
    with pytest.raises(S3Error) as refused:
        stranger.get_object("harness", "hello.txt")
    assert refused.value.code in {"InvalidAccessKeyId", "AccessDenied", "SignatureDoesNotMatch"}
