"""The type of an upload, from its bytes only (``filetype``), against the accepted list.

The client's content type and file name are never consulted. Anything not on the list
(SVG, HTML, scripts, archives, executables, playlists, unknown bytes) is refused with the
type we detected, so the client learns what we saw.
"""

from __future__ import annotations

from pathlib import Path

import filetype

from nexgate.files.domain.errors import UnsupportedMediaType
from nexgate.files.domain.purposes import Kind
from nexgate.files.ports import Sniffed

HEAD_BYTES = 8192

#: Sniffed MIME type -> (kind, extension). The whole accepted list.
ACCEPTED: dict[str, tuple[Kind, str]] = {
    "image/jpeg": (Kind.IMAGE, "jpg"),
    "image/png": (Kind.IMAGE, "png"),
    "image/apng": (Kind.IMAGE, "png"),
    "image/webp": (Kind.IMAGE, "webp"),
    "image/gif": (Kind.IMAGE, "gif"),
    "image/heic": (Kind.IMAGE, "heic"),
    "video/mp4": (Kind.VIDEO, "mp4"),
    "video/x-m4v": (Kind.VIDEO, "mp4"),
    "video/quicktime": (Kind.VIDEO, "mov"),
    "video/webm": (Kind.VIDEO, "webm"),
    "video/x-matroska": (Kind.VIDEO, "mkv"),
    "video/3gpp": (Kind.VIDEO, "3gp"),
    "audio/mp4": (Kind.AUDIO, "m4a"),
    "audio/aac": (Kind.AUDIO, "aac"),
    "audio/ogg": (Kind.AUDIO, "ogg"),
    "audio/mpeg": (Kind.AUDIO, "mp3"),
    "audio/amr": (Kind.AUDIO, "amr"),
    "application/pdf": (Kind.DOCUMENT, "pdf"),
}


def _text_type(head: bytes) -> str:
    """Name what a non-binary refusal looked like (for the problem's ``detectedType``)."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"#extm3u"):
        return "application/vnd.apple.mpegurl"
    if b"<svg" in text[:4096]:
        return "image/svg+xml"
    if (
        text.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script"))
        or b"<html" in text[:1024]
    ):
        return "text/html"
    if text.startswith(b"<?xml") or text.startswith(b"<"):
        return "application/xml"
    if text.startswith(b"#!"):
        return "text/x-script"
    if text and all(32 <= b < 127 or b in (9, 10, 13) for b in text[:512]):
        return "text/plain"
    return "application/octet-stream"


def sniff_bytes(head: bytes) -> Sniffed:
    if not head:
        raise UnsupportedMediaType("application/x-empty")
    guess = filetype.guess(head)
    detected = guess.mime if guess is not None else _text_type(head)
    accepted = ACCEPTED.get(detected)
    if accepted is None:
        raise UnsupportedMediaType(detected)
    kind, extension = accepted
    mime = "image/png" if detected == "image/apng" else detected
    return Sniffed(mime_type=mime, kind=kind, extension=extension)


def sniff_file(path: Path) -> Sniffed:
    with path.open("rb") as handle:
        return sniff_bytes(handle.read(HEAD_BYTES))
