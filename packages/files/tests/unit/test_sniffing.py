"""Sniffing from bytes: the client's type and name never count."""

from __future__ import annotations

import files_media as media
import pytest

from nexgate.files.adapters.media.sniff import sniff_bytes
from nexgate.files.domain.errors import UnsupportedMediaType
from nexgate.files.domain.purposes import Kind


def test_real_type_from_bytes_not_client_header() -> None:
    # The sniffer is never told a name or a content type: a PNG is a PNG whatever it is called.
    assert sniff_bytes(media.png()).mime_type == "image/png"
    assert sniff_bytes(media.jpeg()).mime_type == "image/jpeg"
    assert sniff_bytes(media.gif()).kind is Kind.IMAGE
    assert sniff_bytes(media.PDF).kind is Kind.DOCUMENT


@pytest.mark.parametrize(
    ("payload", "detected"),
    [
        (media.SVG, "image/svg+xml"),
        (media.HTML, "text/html"),
        (media.PLAYLIST, "application/vnd.apple.mpegurl"),
        (media.ELF, "application/x-executable"),
        (b"#!/bin/sh\nrm -rf /\n", "text/x-script"),
        (b"\x00\x01\x02garbage", "application/octet-stream"),
    ],
)
def test_svg_html_scripts_playlists_executables_refused(payload: bytes, detected: str) -> None:
    with pytest.raises(UnsupportedMediaType) as refused:
        sniff_bytes(payload)
    assert refused.value.detected_type == detected
    assert refused.value.status == 415


def test_archives_refused() -> None:
    with pytest.raises(UnsupportedMediaType) as refused:
        sniff_bytes(media.zip_bytes())
    assert refused.value.detected_type == "application/zip"
