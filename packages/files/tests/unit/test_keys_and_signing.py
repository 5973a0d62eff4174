"""Object keys cannot escape the store; signed URLs cannot be forged, reused late or moved."""

from __future__ import annotations

import pytest

from nexgate.files.adapters.storage.keys import check_key
from nexgate.files.adapters.storage.signing import UrlSigner


@pytest.mark.parametrize(
    "key",
    [
        "../etc/passwd",
        "/abs/path",
        "pub/../../x",
        "pub//x",
        "pub/.hidden",
        "pub/a b",
        "pub/x\x00",
        "",
        "a/" * 300,
    ],
)
def test_bad_keys_refused(key: str) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        check_key(key)


def test_good_key_accepted() -> None:
    assert check_key("pub/0193/thumb-1a2b3c4d.webp") == "pub/0193/thumb-1a2b3c4d.webp"


def test_signed_url_tampered_expired_or_other_key_refused() -> None:
    signer = UrlSigner("a-secret-of-sixteen-bytes")
    query = dict(
        part.split("=") for part in signer.query("GET", "priv/f/thumb-1.webp", 300, now=1000).split("&")
    )
    assert signer.verify("GET", "priv/f/thumb-1.webp", query["exp"], query["sig"], now=1100)
    assert not signer.verify("GET", "priv/f/thumb-1.webp", query["exp"], query["sig"], now=1301)
    assert not signer.verify("GET", "priv/g/thumb-1.webp", query["exp"], query["sig"], now=1100)
    assert not signer.verify("PUT", "priv/f/thumb-1.webp", query["exp"], query["sig"], now=1100)
    tampered = ("0" if query["sig"][0] != "0" else "1") + query["sig"][1:]
    assert not signer.verify("GET", "priv/f/thumb-1.webp", query["exp"], tampered, now=1100)
    assert not signer.verify(
        "GET", "priv/f/thumb-1.webp", str(int(query["exp"]) + 999), query["sig"], now=1100
    )
