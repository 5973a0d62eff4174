"""`MediaInspector` over the sniffer, the image pool and the PDF check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio.from_thread
import anyio.to_thread

from nexgate.files.adapters.media.av import process_av_sync
from nexgate.files.adapters.media.documents import check_pdf_sync
from nexgate.files.adapters.media.images import ImagePool, process_image_sync
from nexgate.files.adapters.media.sniff import sniff_file
from nexgate.files.domain.purposes import Purpose
from nexgate.files.ports import ProcessedMedia, Sniffed


class LocalMediaInspector:
    def __init__(self, pool: ImagePool, *, max_pixels: int, max_side: int) -> None:
        self._pool = pool
        self._max_pixels = max_pixels
        self._max_side = max_side

    def sniff(self, path: Path) -> Sniffed:
        return sniff_file(path)

    async def process_image(
        self, path: Path, sniffed: Sniffed, purpose: Purpose, workdir: Path
    ) -> ProcessedMedia:
        result: ProcessedMedia = await self._pool.run(
            process_image_sync,
            path,
            sniffed,
            purpose,
            workdir,
            max_pixels=self._max_pixels,
            max_side=self._max_side,
        )
        return result

    async def process_av(
        self,
        path: Path,
        sniffed: Sniffed,
        purpose: Purpose,
        workdir: Path,
        on_progress: Callable[[float], Awaitable[None]] | None = None,
    ) -> ProcessedMedia:
        report: Callable[[float], None] | None = None
        if on_progress is not None:
            callback = on_progress

            def report(fraction: float) -> None:
                # Called from the processing thread: hop back to the event loop to write.
                anyio.from_thread.run(_await, callback, fraction)

        result: ProcessedMedia = await anyio.to_thread.run_sync(
            lambda: process_av_sync(
                path,
                sniffed,
                purpose,
                workdir,
                max_pixels=self._max_pixels,
                max_side=self._max_side,
                on_progress=report,
            )
        )
        return result

    async def check_document(self, path: Path, sniffed: Sniffed, workdir: Path) -> ProcessedMedia:
        result: ProcessedMedia = await anyio.to_thread.run_sync(check_pdf_sync, path, workdir)
        return result


async def _await(callback: Callable[[float], Awaitable[None]], fraction: float) -> None:
    await callback(fraction)
