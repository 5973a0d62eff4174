"""Every accepted video and audio container, sniffed from its bytes and processed by the
worker's pipeline with the demuxer forced from the sniff (ffmpeg only, no services).

AMR is accepted and demuxed too, but Debian's ffmpeg has no AMR encoder to make a clip with.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from nexgate.files.adapters.media.av import process_av_sync
from nexgate.files.adapters.media.sniff import sniff_file
from nexgate.files.domain.purposes import default_purposes

VIDEO = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1"]
TONE = ["-f", "lavfi", "-i", "sine=frequency=440:duration=1"]
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]

FORMATS = {
    "webm": (
        "clip.webm",
        [*VIDEO, *TONE, "-c:v", "libvpx-vp9", "-deadline", "realtime", "-c:a", "libopus"],
        "video/webm",
    ),
    "matroska": ("clip.mkv", [*VIDEO, *TONE, *X264, "-c:a", "aac"], "video/x-matroska"),
    "mov": ("clip.mov", [*VIDEO, *TONE, *X264, "-c:a", "aac"], "video/quicktime"),
    "m4a": ("voice.m4a", [*TONE, "-c:a", "aac"], "audio/mp4"),
    "aac": ("voice.aac", [*TONE, "-c:a", "aac", "-f", "adts"], "audio/aac"),
    "mp3": ("voice.mp3", [*TONE, "-c:a", "libmp3lame"], "audio/mpeg"),
}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_accepted_av_container_is_sniffed_and_transcoded(tmp_path: Path, name: str) -> None:
    filename, args, mime = FORMATS[name]
    # A misleading name: the type must come from the bytes.
    source = tmp_path / "upload.bin"
    made = tmp_path / filename
    subprocess.run(  # noqa: S603
        ["ffmpeg", "-v", "error", "-y", *args, "-shortest", str(made)],  # noqa: S607
        check=True,
        timeout=60,
    )
    made.rename(source)
    sniffed = sniff_file(source)
    assert sniffed.mime_type == mime
    out = tmp_path / "out"
    out.mkdir()
    result = process_av_sync(
        source, sniffed, default_purposes()["chat_attachment"], out, max_pixels=40_000_000, max_side=12_000
    )
    assert result.duration_ms is not None
    assert 800 <= result.duration_ms <= 1300
    if mime.startswith("video/"):
        assert result.mime_type == "video/mp4"
        assert (result.width, result.height) == (320, 240)  # never upscaled to 720
        assert [v.name for v in result.variants] == ["video", "poster_thumb"]  # 320 px: one size
        assert len(result.blurhash or "") == 28
    else:
        assert result.mime_type == "audio/mp4"
        assert [v.name for v in result.variants] == ["audio"]
    assert result.variants[0].path.read_bytes()[4:8] == b"ftyp"  # an MP4/M4A container
