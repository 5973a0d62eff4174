"""PDF confirmation: the ``%PDF-`` header and an ``%%EOF`` trailer; stored as a private download."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from nexgate.files.domain import errors
from nexgate.files.ports import ProcessedMedia, ProcessedVariant

TRAILER_WINDOW = 2048


def check_pdf_sync(path: Path, workdir: Path) -> ProcessedMedia:
    size = path.stat().st_size
    with path.open("rb") as handle:
        if handle.read(5) != b"%PDF-":
            raise errors.corrupt_media("The PDF header is missing.")
        handle.seek(max(0, size - TRAILER_WINDOW))
        if b"%%EOF" not in handle.read():
            raise errors.corrupt_media("The PDF is truncated (no %%EOF trailer).")
    target = workdir / "document.pdf"
    shutil.copyfile(path, target)
    digest = hashlib.sha256()
    with target.open("rb") as handle:
        while chunk := handle.read(1 << 16):
            digest.update(chunk)
    return ProcessedMedia(
        mime_type="application/pdf",
        variants=[
            ProcessedVariant(
                name="document",
                path=target,
                mime_type="application/pdf",
                extension="pdf",
                width=0,
                height=0,
                size_bytes=os.path.getsize(target),
                digest8=digest.hexdigest()[:8],
            )
        ],
    )
