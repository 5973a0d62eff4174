"""Generated test media (never committed binaries)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def jpeg(
    width: int = 400,
    height: int = 200,
    *,
    orientation: int | None = None,
    gps: bool = False,
    colour=(200, 30, 30),
) -> bytes:
    image = Image.new("RGB", (width, height), colour)
    # A marker so orientation is visible: the left quarter is blue.
    image.paste((20, 20, 220), (0, 0, width // 4, height))
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    exif[0x010F] = "NexgatePhone"  # Make
    if gps:
        gps_ifd = exif.get_ifd(0x8825)
        gps_ifd[1] = "S"
        gps_ifd[2] = (6.0, 48.0, 0.0)
        gps_ifd[3] = "E"
        gps_ifd[4] = (39.0, 17.0, 0.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes(), quality=90)
    return buffer.getvalue()


def png(width: int = 300, height: int = 300, mode: str = "RGBA") -> bytes:
    image = Image.new(mode, (width, height), (10, 160, 60, 255) if mode == "RGBA" else (10, 160, 60))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A one-colour greyscale PNG of ``width`` x ``height``: a few KiB on disk, hundreds of MB decoded."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` and carries almost no data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


def gif(frames: int = 3) -> bytes:
    images = [Image.new("P", (64, 48), i * 40) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=100)
    return buffer.getvalue()


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = b"<!DOCTYPE html><html><body><script>fetch('/steal')</script></body></html>"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PLAYLIST = b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 64


def zip_bytes() -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    return buffer.getvalue()


def _exif_with_gps() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "NexgatePhone"  # Make
    gps_ifd = exif.get_ifd(0x8825)
    gps_ifd[1], gps_ifd[2], gps_ifd[3], gps_ifd[4] = "S", (6.0, 48.0, 0.0), "E", (39.0, 17.0, 0.0)
    return exif


def heic(width: int = 640, height: int = 480) -> bytes:
    """An iPhone-style HEIC (x265 through pillow-heif) carrying EXIF with GPS tags."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    image = Image.new("RGB", (width, height), (200, 30, 30))
    image.paste((20, 20, 220), (0, 0, width // 4, height))
    buffer = io.BytesIO()
    image.save(buffer, "HEIF", quality=80, exif=_exif_with_gps().tobytes())
    return buffer.getvalue()


def webp(width: int = 500, height: int = 300, *, frames: int = 1) -> bytes:
    """A WebP with EXIF and GPS tags; ``frames`` > 1 makes it animated."""
    images = [Image.new("RGB", (width, height), (30, 30 + 60 * i, 200)) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        "WEBP",
        quality=90,
        exif=_exif_with_gps().tobytes(),
        save_all=frames > 1,
        append_images=images[1:],
        duration=100,
    )
    return buffer.getvalue()


def png_with_text(text: bytes, *, keyword: bytes = b"Comment") -> bytes:
    """A small PNG carrying ``text`` in a zlib-compressed ``zTXt`` chunk (a 64 MiB run of one
    byte compresses to about 64 KiB: a text-chunk bomb)."""
    plain = png(300, 300, "RGB")
    ihdr_end = 8 + 25  # signature + the IHDR chunk
    chunk = _chunk(b"zTXt", keyword + b"\x00\x00" + zlib.compress(text, 9))
    return plain[:ihdr_end] + chunk + plain[ihdr_end:]


#: Appended to a GIF: the classic GIF/JS polyglot tail (``GIF89a`` parses as a JS identifier).
GIF_JS_TAIL = b"*/=1;alert(document.domain);/*<script>alert(1)</script>"
