"""The image pipeline on generated images (Pillow only, no services)."""

from __future__ import annotations

import io
from pathlib import Path

import files_media as media
import pytest
from PIL import Image, ImageFile

from nexgate.files.adapters.media import images
from nexgate.files.adapters.media.images import process_image_sync
from nexgate.files.adapters.media.sniff import sniff_bytes
from nexgate.files.domain.purposes import default_purposes
from nexgate.kernel.errors import ValidationFailed

PURPOSES = default_purposes()


def run(tmp_path: Path, payload: bytes, purpose: str = "product_image", **limits: int):
    source = tmp_path / "upload"
    source.write_bytes(payload)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    return process_image_sync(
        source,
        sniff_bytes(payload),
        PURPOSES[purpose],
        out,
        max_pixels=limits.get("max_pixels", 40_000_000),
        max_side=limits.get("max_side", 12_000),
    )


def test_exif_gps_removed_and_orientation_applied(tmp_path: Path) -> None:
    result = run(tmp_path, media.jpeg(400, 200, orientation=6, gps=True))
    # Orientation 6 (rotate 90° clockwise to view): the stored image is upright, 200x400.
    assert (result.width, result.height) == (200, 400)
    for variant in result.variants:
        with Image.open(variant.path) as stored:
            assert stored.format == "WEBP"
            assert len(stored.getexif()) == 0
            assert not stored.info.get("exif")
            assert not stored.info.get("xmp")
            assert not stored.info.get("icc_profile")
            # The blue marker was on the left edge; after rotating clockwise it is on top.
            top = stored.convert("RGB").getpixel((stored.width // 2, 2))
            bottom = stored.convert("RGB").getpixel((stored.width // 2, stored.height - 3))
            assert top[2] > 150 > top[0], top
            assert bottom[0] > 150 > bottom[2], bottom
        assert b"NexgatePhone" not in variant.path.read_bytes()


def test_variants_sizes_webp_no_upscale_and_square_avatar_crops(tmp_path: Path) -> None:
    big = run(tmp_path, media.jpeg(3000, 1500))
    assert [(v.name, v.width, v.height) for v in big.variants] == [
        ("thumb", 320, 160),
        ("medium", 1080, 540),
        ("large", 2048, 1024),
    ]
    small = run(tmp_path, media.jpeg(500, 250))
    # Never upscaled: medium is the original size and large is not made at all.
    assert [(v.name, v.width, v.height) for v in small.variants] == [
        ("thumb", 320, 160),
        ("medium", 500, 250),
    ]
    avatar = run(tmp_path, media.jpeg(800, 400), purpose="avatar")
    assert [(v.name, v.width, v.height) for v in avatar.variants] == [
        ("small", 96, 96),
        ("medium", 256, 256),
        ("large", 400, 400),
    ]
    assert all(v.mime_type == "image/webp" and v.path.read_bytes()[8:12] == b"WEBP" for v in avatar.variants)


def test_blurhash_computed_on_downscaled_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, int]] = []
    real = images.blurhash.encode

    def spy(image, x_components, y_components):
        seen.append(image.size)
        assert (x_components, y_components) == (4, 3)
        return real(image, x_components=x_components, y_components=y_components)

    monkeypatch.setattr(images.blurhash, "encode", spy)
    result = run(tmp_path, media.jpeg(3000, 1500, colour=(200, 30, 30)))
    assert seen
    assert max(seen[0]) <= 64
    assert len(result.blurhash) == 28  # 4x3 components
    assert result.dominant_color is not None
    assert result.dominant_color.startswith("#")


def test_decompression_bomb_refused_before_decode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[tuple[int, int]] = []
    real_load = ImageFile.ImageFile.load

    def spy_load(image: ImageFile.ImageFile):  # type: ignore[no-untyped-def]
        decoded.append(image.size)
        return real_load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy_load)
    bomb = media.png_bomb(20_000, 20_000)
    assert len(bomb) < 1_000_000  # small on disk, 400 MP decoded
    with pytest.raises(ValidationFailed) as refused:
        run(tmp_path, bomb)
    assert refused.value.code == "image_too_large"
    # Refused from the header: not a single pixel was decoded.
    assert decoded == []
    run(tmp_path, media.png(64, 64))
    assert (64, 64) in decoded  # the spy does see a real decode
    with pytest.raises(ValidationFailed) as declared:
        run(tmp_path, media.png_header_only(50_000, 50_000))
    assert declared.value.code == "image_too_large"
    with pytest.raises(ValidationFailed) as side:
        run(tmp_path, media.png_header_only(13_000, 100))
    assert side.value.code == "image_too_large"


def test_truncated_image_fails_cleanly(tmp_path: Path) -> None:
    whole = media.jpeg(800, 600)
    with pytest.raises(ValidationFailed) as refused:
        run(tmp_path, whole[: len(whole) // 2])
    assert refused.value.code == "corrupt_media"
    assert not list((tmp_path / "out").iterdir())


def test_polyglot_payload_absent_from_variants(tmp_path: Path) -> None:
    payload = media.jpeg(600, 400) + media.HTML + media.zip_bytes()
    result = run(tmp_path, payload)
    for variant in result.variants:
        data = variant.path.read_bytes()
        assert b"<script>" not in data
        assert b"PK\x03\x04" not in data


def test_gif_keeps_first_frame(tmp_path: Path) -> None:
    result = run(tmp_path, media.gif(3))
    assert [(v.width, v.height) for v in result.variants] == [(64, 48)]
    with Image.open(io.BytesIO(result.variants[0].path.read_bytes())) as stored:
        assert getattr(stored, "n_frames", 1) == 1


@pytest.mark.parametrize(
    ("payload", "sniffed", "size"),
    [
        (media.heic(640, 480), "image/heic", (640, 480)),
        (media.webp(500, 300), "image/webp", (500, 300)),
        (media.webp(500, 300, frames=3), "image/webp", (500, 300)),
    ],
    ids=["heic", "webp", "animated-webp"],
)
def test_heic_and_webp_inputs_become_clean_webp_variants(
    tmp_path: Path, payload: bytes, sniffed: str, size: tuple[int, int]
) -> None:
    assert b"NexgatePhone" in payload  # the input really carries EXIF (and GPS tags)
    assert sniff_bytes(payload).mime_type == sniffed
    result = run(tmp_path, payload)
    assert (result.width, result.height) == size
    assert [v.name for v in result.variants] == ["thumb", "medium"]
    for variant in result.variants:
        data = variant.path.read_bytes()
        assert data[8:12] == b"WEBP"
        assert b"NexgatePhone" not in data
        with Image.open(io.BytesIO(data)) as stored:
            assert len(stored.getexif()) == 0
            assert getattr(stored, "n_frames", 1) == 1  # an animation keeps its first frame
    assert len(result.blurhash or "") == 28


def test_oversized_compressed_text_chunk_refused_or_stripped(tmp_path: Path) -> None:
    bomb = media.png_with_text(b"A" * (64 * 1024 * 1024))
    assert len(bomb) < 100_000
    with pytest.raises(ValidationFailed) as refused:
        run(tmp_path, bomb)  # Pillow stops inflating at its text-chunk cap; never expanded
    assert refused.value.code == "corrupt_media"
    # A text chunk within the cap is decoded with the header, then dropped with the metadata.
    result = run(tmp_path, media.png_with_text(b"SECRET-NOTE " * 1000))
    for variant in result.variants:
        assert b"SECRET-NOTE" not in variant.path.read_bytes()
        with Image.open(variant.path) as stored:
            assert "Comment" not in stored.info
