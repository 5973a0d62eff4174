"""The safe image pipeline (Pillow): refuse oversize before decoding, decode with the sniffed
format forced, apply the EXIF orientation, convert to sRGB, drop every metadata block, and
write never-upscaled WebP variants plus a BlurHash and a dominant colour.

It runs in threads, at most ``workers`` at once; a request that cannot get a slot within
``queue_wait_s`` is refused with 503 ``busy``.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

import anyio
import anyio.to_thread
import blurhash
import pillow_heif
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from nexgate.files.domain import errors
from nexgate.files.domain.purposes import Purpose
from nexgate.files.ports import ProcessedMedia, ProcessedVariant, Sniffed

pillow_heif.register_heif_opener()
# Truncated images are errors, never padded with grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False
# A decompression bomb warning is an error everywhere in this process.
warnings.simplefilter("error", Image.DecompressionBombWarning)

PIL_FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/gif": "GIF",
    "image/heic": "HEIF",
}
WEBP_QUALITY = 82
BLURHASH_SIZE = 64
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _digest8(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:8]


def _to_srgb(image: Image.Image) -> Image.Image:
    """The image in 8-bit sRGB (RGBA when it has transparency), with no metadata at all."""
    original = image
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    mode = "RGBA" if has_alpha else "RGB"
    icc = image.info.get("icc_profile")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if image.mode not in ("RGB", "RGBA", "CMYK", "L"):
                image = image.convert(mode)
            converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode)
            if converted is not None:
                image = converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: keep the pixels as they are
    if image.mode != mode:
        image = image.convert(mode)
    if image is original:
        image = image.copy()
    # Pixels only: no EXIF, GPS, XMP, IPTC, ICC or comments travel with the image (and the
    # WebP encoder writes metadata only when it is passed explicitly, which we never do).
    image.info = {}
    return image


def _variant_images(image: Image.Image, purpose: Purpose) -> list[tuple[str, Image.Image]]:
    """Variants smallest first, never upscaled; sizes the original cannot fill are dropped.

    Each is resized from the next larger one (largest from the original), which costs a
    fraction of resizing the full image every time and looks the same with Lanczos.
    """
    width, height = image.size
    wanted: list[tuple[str, int]] = []
    for name, target in purpose.variants:
        wanted.append((name, target))
        if target >= (min(width, height) if purpose.square else max(width, height)):
            break
    out: list[tuple[str, Image.Image]] = []
    source = image
    for name, target in reversed(wanted):
        if purpose.square:
            side = min(target, width, height)
            variant = ImageOps.fit(source, (side, side), Image.Resampling.LANCZOS, centering=(0.5, 0.5))
        else:
            scale = min(1.0, target / max(width, height))
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            variant = (
                source.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
                if size != source.size
                else source
            )
        out.append((name, variant))
        source = variant
    return list(reversed(out))


def summarize(image: Image.Image) -> tuple[str, str]:
    """(blurhash, dominant colour) from a copy no larger than 64 px: never the full image."""
    scale = min(1.0, BLURHASH_SIZE / max(image.size))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    small = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0).convert("RGB")
    r, g, b = small.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))  # type: ignore[misc]
    # blurhash-python closes the image it is given, so it gets its own copy.
    hash_ = blurhash.encode(small.copy(), x_components=4, y_components=3)
    return hash_, f"#{r:02x}{g:02x}{b:02x}"


def process_image_sync(
    path: Path, sniffed: Sniffed, purpose: Purpose, workdir: Path, *, max_pixels: int, max_side: int
) -> ProcessedMedia:
    fmt = PIL_FORMATS.get(sniffed.mime_type)
    if fmt is None:
        raise errors.UnsupportedMediaType(sniffed.mime_type)
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with Image.open(path, formats=[fmt]) as source:
            # The header alone gives the size: refuse before a single pixel is decoded.
            width, height = source.size
            if width * height > max_pixels or max(width, height) > max_side:
                raise errors.image_too_large(width, height, max_pixels, max_side)
            if width < 1 or height < 1:
                raise errors.corrupt_media()
            if getattr(source, "n_frames", 1) > 1:
                source.seek(0)  # animations keep their first frame
            largest = max(target for _, target in purpose.variants)
            if fmt == "JPEG":
                source.draft(source.mode, (largest, largest))
            source.load()
            upright = ImageOps.exif_transpose(source)
            image = _to_srgb(upright)
    except (errors.UnsupportedMediaType, errors.ValidationFailed):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise errors.image_too_large(0, 0, max_pixels, max_side) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        raise errors.corrupt_media(f"The image could not be decoded: {type(exc).__name__}.") from None

    out_width, out_height = image.size
    result = ProcessedMedia(mime_type="image/webp", width=out_width, height=out_height)
    variants = _variant_images(image, purpose)
    for name, variant in variants:
        buffer = io.BytesIO()
        variant.save(buffer, "WEBP", quality=WEBP_QUALITY, method=4)
        data = buffer.getvalue()
        target = workdir / f"{name}.webp"
        target.write_bytes(data)
        result.variants.append(
            ProcessedVariant(
                name=name,
                path=target,
                mime_type="image/webp",
                extension="webp",
                width=variant.width,
                height=variant.height,
                size_bytes=len(data),
                digest8=_digest8(data),
            )
        )
    # From the smallest variant (at most 320 px), shrunk again to at most 64 px.
    result.blurhash, result.dominant_color = summarize(variants[0][1])
    return result


class ImagePool:
    """At most ``workers`` images decode at once; callers wait ``queue_wait_s`` at most."""

    def __init__(self, workers: int, queue_wait_s: float) -> None:
        self._limiter = anyio.CapacityLimiter(max(1, workers))
        self._wait = queue_wait_s

    async def run(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        with anyio.move_on_after(self._wait) as scope:
            await self._limiter.acquire()
        if scope.cancelled_caught:
            raise errors.busy()
        try:
            return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))
        finally:
            self._limiter.release()
