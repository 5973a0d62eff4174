"""The files pipeline against bare Pillow and bare ffmpeg, same inputs, same process.

Inputs are generated in a temporary directory: N 12-megapixel JPEGs (4000x3000, a gradient
with noise, EXIF orientation 6 and GPS tags) and one 1080p 10-second clip (testsrc2 + sine,
x264 ultrafast).

- **Images**: the full pipeline (`process_image_sync` for ``product_image``: header check,
  forced-format decode, orientation, sRGB, metadata strip, three WebP variants, BlurHash on a
  64 px copy) plus storing the variants (`FilesystemBlobStore.put`), against a bare Pillow
  baseline on the same files (decode, one resize to 1080 px, one WebP encode).
  Ratio = pipeline images/s / baseline images/s.
- **BlurHash**: milliseconds per image for `summarize` on the 64 px copy (blurhash-python
  plus the dominant colour), and its share of the pipeline's time per image.
- **Video**: the worker's processing (`process_av_sync`: probe, transcode, probe of the
  output, poster through the image pipeline) plus storing the outputs, against the raw
  ``ffmpeg`` command line with identical encoding arguments on the same file.
  Ratio = raw ffmpeg seconds / worker seconds (1.0: the worker adds nothing).

Knobs: NEXGATE_BENCH_FILES_IMAGES (6), NEXGATE_BENCH_FILES_VIDEO_RUNS (2).
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

DESCRIPTION = "files: image pipeline vs bare Pillow, BlurHash cost, video worker vs raw ffmpeg"


def _jpeg_12mp(path: Path, seed: int) -> None:
    import numpy as np  # Pillow's noise is slow at 12 MP; numpy ships with the dev tools
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:3000, 0:4000]
    base = np.stack([(x * 255 // 4000), (y * 255 // 3000), ((x + y) * 255 // 7000)], axis=-1)
    noisy = np.clip(base + rng.integers(-20, 20, size=base.shape), 0, 255).astype("uint8")
    image = Image.fromarray(noisy, "RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "S", (6.0, 48.0, 0.0), "E", (39.0, 17.0, 0.0)
    image.save(path, "JPEG", quality=90, exif=exif.tobytes())


def _baseline(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        image.thumbnail((1080, 1080), Image.Resampling.LANCZOS)
        image.save(io.BytesIO(), "WEBP", quality=82, method=4)


def _bench_images(work: Path, count: int) -> dict[str, object]:
    from PIL import Image

    from nexgate.files.adapters.media import images
    from nexgate.files.adapters.media.sniff import sniff_file
    from nexgate.files.adapters.storage.filesystem import FilesystemBlobStore
    from nexgate.files.adapters.storage.signing import UrlSigner
    from nexgate.files.domain.purposes import default_purposes

    purpose = default_purposes()["product_image"]
    store = FilesystemBlobStore(work / "store", UrlSigner("bench-files-url-secret"))
    paths = []
    for i in range(count):
        path = work / f"photo-{i}.jpg"
        _jpeg_12mp(path, i)
        paths.append(path)

    # BlurHash is timed inside the pipeline by wrapping `summarize`.
    summarize_times: list[float] = []
    real_summarize = images.summarize

    def timed_summarize(image: Image.Image) -> tuple[str, str]:
        started = time.perf_counter()
        try:
            return real_summarize(image)
        finally:
            summarize_times.append(time.perf_counter() - started)

    images.summarize = timed_summarize  # type: ignore[assignment]

    async def store_all(result: object, index: int) -> None:
        for variant in result.variants:  # type: ignore[attr-defined]
            await store.put(
                f"pub/bench-{index}/{variant.name}-{variant.digest8}.webp",
                variant.path,
                variant.size_bytes,
                variant.mime_type,
            )

    pipeline_times: list[float] = []
    baseline_times: list[float] = []
    _baseline(paths[0])  # warm-up of both paths
    try:
        for index, path in enumerate(paths):
            # Alternate baseline and pipeline on the same file.
            started = time.perf_counter()
            _baseline(path)
            baseline_times.append(time.perf_counter() - started)
            out = work / f"out-{index}"
            out.mkdir()
            started = time.perf_counter()
            result = images.process_image_sync(
                path, sniff_file(path), purpose, out, max_pixels=40_000_000, max_side=12_000
            )
            asyncio.run(store_all(result, index))
            pipeline_times.append(time.perf_counter() - started)
            shutil.rmtree(out)
    finally:
        images.summarize = real_summarize  # type: ignore[assignment]
    pipeline_per_s = len(paths) / sum(pipeline_times)
    baseline_per_s = len(paths) / sum(baseline_times)
    blurhash_ms = statistics.mean(summarize_times) * 1000
    return {
        "images": len(paths),
        "image_megapixels": 12,
        "pipeline_seconds": [round(t, 4) for t in pipeline_times],
        "baseline_seconds": [round(t, 4) for t in baseline_times],
        "pipeline_images_per_s": round(pipeline_per_s, 3),
        "baseline_images_per_s": round(baseline_per_s, 3),
        "images_ratio": round(pipeline_per_s / baseline_per_s, 4),
        "blurhash_ms_per_image": round(blurhash_ms, 3),
        "blurhash_share_of_pipeline": round(blurhash_ms / 1000 / statistics.mean(pipeline_times), 5),
    }


def _bench_video(work: Path, runs: int) -> dict[str, object]:
    from nexgate.files.adapters.media import av
    from nexgate.files.adapters.media.sniff import sniff_file
    from nexgate.files.adapters.storage.filesystem import FilesystemBlobStore
    from nexgate.files.adapters.storage.signing import UrlSigner
    from nexgate.files.domain.purposes import default_purposes

    clip = work / "clip-1080p.mp4"
    subprocess.run(
        [av.FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=10",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=10", "-c:v", "libx264", "-preset", "ultrafast",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(clip)],
        check=True,
    )  # fmt: skip
    purpose = default_purposes()["post_media"]
    store = FilesystemBlobStore(work / "store", UrlSigner("bench-files-url-secret"))
    found = av.probe(clip, "mov")
    raw_out = work / "raw.mp4"
    # The very command line the worker runs (sandbox flags included), built by the same code.
    raw_args = av.video_command(clip, "mov", found, raw_out, av.Limits(timeout_s=600))

    async def store_all(result: object, run: int) -> None:
        for variant in result.variants:  # type: ignore[attr-defined]
            await store.put(
                f"pub/bench-video-{run}/{variant.name}-{variant.digest8}.{variant.extension}",
                variant.path,
                variant.size_bytes,
                variant.mime_type,
            )

    worker_times: list[float] = []
    raw_times: list[float] = []
    for run in range(runs):
        started = time.perf_counter()
        subprocess.run(raw_args, check=True, capture_output=True)
        raw_times.append(time.perf_counter() - started)
        out = work / f"video-{run}"
        out.mkdir()
        started = time.perf_counter()
        result = av.process_av_sync(
            clip, sniff_file(clip), purpose, out, max_pixels=40_000_000, max_side=12_000
        )
        asyncio.run(store_all(result, run))
        worker_times.append(time.perf_counter() - started)
        shutil.rmtree(out)
    return {
        "clip": {"width": found.width, "height": found.height, "duration_s": round(found.duration_s, 3)},
        "video_runs": runs,
        "worker_seconds": [round(t, 3) for t in worker_times],
        "raw_ffmpeg_seconds": [round(t, 3) for t in raw_times],
        "video_ratio": round(statistics.mean(raw_times) / statistics.mean(worker_times), 4),
    }


def run() -> dict[str, object]:
    count = int(os.environ.get("NEXGATE_BENCH_FILES_IMAGES", "6"))
    runs = int(os.environ.get("NEXGATE_BENCH_FILES_VIDEO_RUNS", "2"))
    with tempfile.TemporaryDirectory(prefix="nexgate-bench-files-") as tmp:
        work = Path(tmp)
        image_results = _bench_images(work, count)
        video_results = _bench_video(work, runs)
    return {
        "parameters": {"images": count, "video_runs": runs},
        "measurements": {**image_results, **video_results},
        "ratios": {
            "images_per_s_vs_bare_pillow": image_results["images_ratio"],
            "blurhash_share_of_image_pipeline": image_results["blurhash_share_of_pipeline"],
            "video_raw_ffmpeg_over_worker_time": video_results["video_ratio"],
        },
        "ratio": image_results["images_ratio"],
        "ratio_definition": "image pipeline images/s / bare Pillow images/s (see ratios for all three)",
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
