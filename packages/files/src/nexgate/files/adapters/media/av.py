"""Video and audio processing with ffprobe/ffmpeg (ffmpeg-python builds the command lines).

Sandboxing: every run uses ``-nostdin``, ``-protocol_whitelist file,pipe`` and a forced input
format (so a playlist or concat file cannot make ffmpeg open another file or a URL), a
wall-clock limit, a thread cap and an address-space limit; a process over a limit is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from nexgate.files.adapters.media.images import process_image_sync
from nexgate.files.domain import errors
from nexgate.files.domain.files import POSTER_PREFIX
from nexgate.files.domain.purposes import Kind, Purpose
from nexgate.files.ports import ProcessedMedia, ProcessedVariant, Sniffed
from nexgate.kernel.errors import ValidationFailed

FFMPEG = os.environ.get("FFMPEG_BINARY", "ffmpeg")
FFPROBE = os.environ.get("FFPROBE_BINARY", "ffprobe")
#: Sniffed type -> the ffmpeg demuxer forced for it.
DEMUXERS = {
    "video/mp4": "mov",
    "video/x-m4v": "mov",
    "video/quicktime": "mov",
    "video/3gpp": "mov",
    "audio/mp4": "mov",
    "video/webm": "matroska",
    "video/x-matroska": "matroska",
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "audio/amr": "amr",
    "audio/aac": "aac",
}
MAX_SIDE = 4096
MAX_FPS = 120
OUT_FPS = 30
SHORT_SIDE = 720
THREADS = 2
ADDRESS_SPACE = 3 * 1024**3
SANDBOX = ["-nostdin", "-protocol_whitelist", "file,pipe"]
#: Wall-clock limit of a run: TIMEOUT_FACTOR x the media's duration + TIMEOUT_BASE_S.
TIMEOUT_FACTOR = 4.0
TIMEOUT_BASE_S = 30.0


@dataclass(frozen=True)
class Limits:
    timeout_s: float
    threads: int = THREADS
    address_space: int = ADDRESS_SPACE


def _limit(address_space: int):  # type: ignore[no-untyped-def]
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    return apply


def run_with_progress(
    args: list[str], limits: Limits, duration_s: float, on_progress: Callable[[float], None]
) -> None:
    """Run ffmpeg with ``-progress pipe:1``, reporting the fraction done as it advances.

    A watchdog kills the process at the wall-clock limit.
    """
    args = [args[0], "-progress", "pipe:1", "-nostats", *args[1:]]
    proc = subprocess.Popen(  # noqa: S603
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_limit(limits.address_space),
    )
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        proc.kill()

    watchdog = threading.Timer(limits.timeout_s, kill)
    watchdog.start()
    stderr: list[bytes] = []
    drain = threading.Thread(target=lambda: stderr.append(proc.stderr.read() if proc.stderr else b""))
    drain.start()
    try:
        last = -1.0
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(b"out_time_us=") and duration_s > 0:
                with contextlib.suppress(ValueError):
                    fraction = min(1.0, int(line.split(b"=", 1)[1]) / 1e6 / duration_s)
                    if fraction - last >= 0.05:
                        last = fraction
                        on_progress(fraction)
        code = proc.wait()
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        drain.join(5)
    if timed_out.is_set():
        raise ValidationFailed("Processing took too long.", code="processing_timeout")
    if code != 0:
        tail = b"".join(stderr).decode(errors="replace").strip().splitlines()[-1:]
        raise errors.corrupt_media(f"The media could not be decoded: {' '.join(tail)[:200]}")


def run(args: list[str], limits: Limits) -> subprocess.CompletedProcess[bytes]:
    """Run a media tool under the limits; a timeout or a crash is a ``ValidationFailed``."""
    try:
        return subprocess.run(  # noqa: S603
            args,
            capture_output=True,
            timeout=limits.timeout_s,
            check=True,
            preexec_fn=_limit(limits.address_space),
        )
    except subprocess.TimeoutExpired:
        raise ValidationFailed("Processing took too long.", code="processing_timeout") from None
    except subprocess.CalledProcessError as exc:
        tail = exc.stderr.decode(errors="replace").strip().splitlines()[-1:] if exc.stderr else []
        raise errors.corrupt_media(f"The media could not be decoded: {' '.join(tail)[:200]}") from None


@dataclass(frozen=True)
class Probe:
    duration_s: float
    width: int
    height: int
    fps: float
    has_video: bool
    has_audio: bool
    video_codec: str | None
    audio_codec: str | None
    raw: dict[str, Any]


def probe(path: Path, demuxer: str | None, timeout_s: float = 30.0) -> Probe:
    args = [FFPROBE, "-v", "error", *SANDBOX[1:]]
    if demuxer:
        args += ["-f", demuxer]
    args += ["-show_format", "-show_streams", "-of", "json", str(path)]
    data = json.loads(run(args, Limits(timeout_s)).stdout or b"{}")
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video" and not _is_cover(s)), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    duration = float(data.get("format", {}).get("duration") or (video or audio or {}).get("duration") or 0)
    width, height, fps = 0, 0, 0.0
    if video is not None:
        width, height = int(video.get("width") or 0), int(video.get("height") or 0)
        if _rotation(video) in (90, 270):
            width, height = height, width
        rate = video.get("avg_frame_rate") or video.get("r_frame_rate") or "0/1"
        try:
            fps = float(Fraction(rate)) if rate != "0/0" else 0.0
        except (ValueError, ZeroDivisionError):
            fps = 0.0
    return Probe(
        duration_s=duration,
        width=width,
        height=height,
        fps=fps,
        has_video=video is not None,
        has_audio=audio is not None,
        video_codec=(video or {}).get("codec_name"),
        audio_codec=(audio or {}).get("codec_name"),
        raw=data,
    )


def _is_cover(stream: dict[str, Any]) -> bool:
    return bool(stream.get("disposition", {}).get("attached_pic"))


def _rotation(stream: dict[str, Any]) -> int:
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            return abs(int(side["rotation"])) % 360
    rotate = stream.get("tags", {}).get("rotate")
    return abs(int(rotate)) % 360 if rotate else 0


def validate(found: Probe, kind: Kind, purpose: Purpose) -> None:
    if kind is Kind.VIDEO and not found.has_video:
        raise errors.corrupt_media("The file has no video stream.")
    if kind is Kind.AUDIO and not found.has_audio:
        raise errors.corrupt_media("The file has no audio stream.")
    if found.duration_s <= 0:
        raise errors.corrupt_media("The media has no duration.")
    if found.duration_s > purpose.max_duration_s:
        raise ValidationFailed(
            f"The media is longer than {purpose.max_duration_s} s.",
            code="video_too_long",
            extra={"maxDurationS": purpose.max_duration_s},
        )
    if kind is Kind.VIDEO and (max(found.width, found.height) > MAX_SIDE or found.fps > MAX_FPS):
        raise ValidationFailed(
            f"Videos may be at most {MAX_SIDE}x{MAX_SIDE} at {MAX_FPS} fps.", code="video_too_large"
        )


def transcode_video(
    source: Path,
    demuxer: str,
    found: Probe,
    out: Path,
    limits: Limits,
    on_progress: Callable[[float], None] | None = None,
) -> None:
    """H.264 (veryfast, CRF 23, yuv420p), short side at most 720, at most 30 fps, AAC 128k stereo."""
    command = video_command(source, demuxer, found, out, limits)
    if on_progress is None:
        run(command, limits)
    else:
        run_with_progress(command, limits, found.duration_s, on_progress)


def video_command(source: Path, demuxer: str, found: Probe, out: Path, limits: Limits) -> list[str]:
    """The sandboxed ffmpeg command line of `transcode_video`."""
    stream = ffmpeg.input(str(source), f=demuxer)
    # ffmpeg applies the rotation metadata itself, so the scale sees the upright size.
    if found.width >= found.height:
        video = stream.video.filter("scale", -2, f"min({SHORT_SIDE},ih)")
    else:
        video = stream.video.filter("scale", f"min({SHORT_SIDE},iw)", -2)
    if found.fps > OUT_FPS:
        video = video.filter("fps", fps=OUT_FPS)
    video = video.filter("format", "yuv420p")
    streams = [video]
    options: dict[str, Any] = {
        "vcodec": "libx264",
        "preset": "veryfast",
        "crf": 23,
        "movflags": "+faststart",
        "threads": limits.threads,
        "f": "mp4",
    }
    if found.has_audio:
        streams.append(stream.audio)
        options.update({"acodec": "aac", "audio_bitrate": "128k", "ac": 2})
    args = ffmpeg.output(*streams, str(out), **options).overwrite_output().compile(cmd=FFMPEG)
    return [args[0], *SANDBOX, *args[1:]]


def transcode_audio(source: Path, demuxer: str, out: Path, limits: Limits) -> None:
    stream = ffmpeg.input(str(source), f=demuxer)
    args = (
        ffmpeg.output(
            stream.audio,
            str(out),
            acodec="aac",
            audio_bitrate="64k",
            movflags="+faststart",
            threads=limits.threads,
            f="mp4",
        )
        .overwrite_output()
        .compile(cmd=FFMPEG)
    )
    run([args[0], *SANDBOX, *args[1:]], limits)


def poster_frame(video: Path, at_s: float, out: Path, limits: Limits) -> None:
    args = (
        ffmpeg.input(str(video), f="mp4", ss=at_s)
        .output(str(out), vframes=1, f="image2", vcodec="png")
        .overwrite_output()
        .compile(cmd=FFMPEG)
    )
    run([args[0], *SANDBOX, *args[1:]], limits)


def _variant(name: str, path: Path, mime: str, extension: str, width: int, height: int) -> ProcessedVariant:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 16):
            digest.update(chunk)
    return ProcessedVariant(
        name=name,
        path=path,
        mime_type=mime,
        extension=extension,
        width=width,
        height=height,
        size_bytes=path.stat().st_size,
        digest8=digest.hexdigest()[:8],
    )


def process_av_sync(
    source: Path,
    sniffed: Sniffed,
    purpose: Purpose,
    workdir: Path,
    *,
    max_pixels: int,
    max_side: int,
    on_progress: Callable[[float], None] | None = None,
) -> ProcessedMedia:
    demuxer = DEMUXERS.get(sniffed.mime_type)
    kind = sniffed.kind
    if demuxer is None or kind not in (Kind.VIDEO, Kind.AUDIO):
        raise errors.UnsupportedMediaType(sniffed.mime_type)
    found = probe(source, demuxer)
    validate(found, kind, purpose)
    limits = Limits(timeout_s=TIMEOUT_FACTOR * found.duration_s + TIMEOUT_BASE_S)
    if kind is Kind.AUDIO:
        out = workdir / "audio.m4a"
        transcode_audio(source, demuxer, out, limits)
        done = probe(out, "mov")
        result = ProcessedMedia(mime_type="audio/mp4")
        result.duration_ms = int(done.duration_s * 1000)
        result.variants.append(_variant("audio", out, "audio/mp4", "m4a", 0, 0))
        return result
    out = workdir / "video.mp4"
    transcode_video(source, demuxer, found, out, limits, on_progress)
    done = probe(out, "mov")
    result = ProcessedMedia(mime_type="video/mp4", width=done.width, height=done.height)
    result.duration_ms = int(done.duration_s * 1000)
    result.variants.append(_variant("video", out, "video/mp4", "mp4", done.width, done.height))
    poster = workdir / "poster.png"
    at = 1.0 if done.duration_s >= 2 else done.duration_s * 0.1
    poster_frame(out, at, poster, limits)
    poster_dir = workdir / "poster"
    poster_dir.mkdir(exist_ok=True)
    image = process_image_sync(
        poster,
        Sniffed(mime_type="image/png", kind=Kind.IMAGE, extension="png"),
        purpose,
        poster_dir,
        max_pixels=max_pixels,
        max_side=max_side,
    )
    result.blurhash, result.dominant_color = image.blurhash, image.dominant_color
    result.variants.extend(
        ProcessedVariant(
            name=f"{POSTER_PREFIX}{v.name}",
            path=v.path,
            mime_type=v.mime_type,
            extension=v.extension,
            width=v.width,
            height=v.height,
            size_bytes=v.size_bytes,
            digest8=v.digest8,
        )
        for v in image.variants
    )
    return result
