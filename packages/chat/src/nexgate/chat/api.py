"""What other contexts may call in-process: nothing yet."""

from __future__ import annotations

__all__: list[str] = []
