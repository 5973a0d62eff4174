"""Test clips generated with ffmpeg's lavfi sources (never committed binaries)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=60)  # noqa: S603, S607


def make_clips(directory: Path) -> dict[str, Path]:
    clips = {}
    src = "testsrc2=size={size}:rate=30:duration={d}"
    sine = "sine=frequency=440:duration={d}"
    landscape = directory / "landscape.mp4"
    # Encoded without faststart: the moov atom is at the end, as phones write it.
    ffmpeg("-f", "lavfi", "-i", src.format(size="1280x960", d=2), "-f", "lavfi", "-i", sine.format(d=2),
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
           str(landscape))  # fmt: skip
    clips["landscape"] = landscape
    plain = directory / "portrait-src.mp4"
    ffmpeg("-f", "lavfi", "-i", src.format(size="640x360", d=2), "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", str(plain))  # fmt: skip
    rotated = directory / "portrait.mp4"
    ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated))
    clips["portrait_no_audio"] = rotated
    three_gp = directory / "clip.3gp"
    ffmpeg("-f", "lavfi", "-i", src.format(size="352x288", d=2), "-f", "lavfi", "-i", sine.format(d=2),
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ar", "16000",
           "-shortest", "-f", "3gp", str(three_gp))  # fmt: skip
    clips["3gp"] = three_gp
    audio = directory / "voice.ogg"
    ffmpeg("-f", "lavfi", "-i", sine.format(d=2), "-c:a", "libopus", str(audio))
    clips["ogg"] = audio
    fast = directory / "fast.mp4"  # 150 fps: over the 120 fps limit
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x64:rate=150:duration=1", "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(fast))  # fmt: skip
    clips["too_fast"] = fast
    truncated = directory / "truncated.mp4"
    data = landscape.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])  # moov is at the end: cut off
    clips["truncated"] = truncated
    return clips
