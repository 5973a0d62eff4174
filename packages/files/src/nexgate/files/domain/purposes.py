"""Purposes: what an upload is for decides its kinds, visibility, limits and variants.

Other contexts add purposes by setting (``NEXGATE_FILES_EXTRA_PURPOSES``), not by code; the
defaults below are the table of the files README.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from nexgate.kernel.errors import FieldProblem, ValidationFailed

MIB = 1024 * 1024


class Kind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"


class Visibility(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


#: Longest-side sizes of the ordinary image variants, smallest first.
STANDARD_VARIANTS: tuple[tuple[str, int], ...] = (("thumb", 320), ("medium", 1080), ("large", 2048))
#: Square centre crops for avatars and logos, smallest first.
SQUARE_VARIANTS: tuple[tuple[str, int], ...] = (("small", 96), ("medium", 256), ("large", 512))


@dataclass(frozen=True)
class Purpose:
    name: str
    #: Allowed kinds with their byte limit each.
    limits: dict[Kind, int]
    visibility: Visibility = Visibility.PUBLIC
    square: bool = False
    max_duration_s: int = 180
    variants: tuple[tuple[str, int], ...] = field(default=STANDARD_VARIANTS)

    def __post_init__(self) -> None:
        if self.square and self.variants == STANDARD_VARIANTS:
            object.__setattr__(self, "variants", SQUARE_VARIANTS)

    @property
    def kinds(self) -> frozenset[Kind]:
        return frozenset(self.limits)

    def limit_for(self, kind: Kind) -> int:
        return self.limits[kind]

    @property
    def largest_limit(self) -> int:
        return max(self.limits.values())


def default_purposes() -> dict[str, Purpose]:
    image10 = {Kind.IMAGE: 10 * MIB}
    image20 = {Kind.IMAGE: 20 * MIB}
    purposes = [
        Purpose("avatar", dict(image10), square=True),
        Purpose("shop_logo", dict(image10), square=True),
        Purpose("post_media", {Kind.IMAGE: 20 * MIB, Kind.VIDEO: 200 * MIB}),
        Purpose("product_image", dict(image20)),
        Purpose("event_cover", dict(image20)),
        Purpose(
            "chat_attachment",
            {Kind.IMAGE: 25 * MIB, Kind.VIDEO: 100 * MIB, Kind.AUDIO: 25 * MIB, Kind.DOCUMENT: 25 * MIB},
            visibility=Visibility.PRIVATE,
        ),
    ]
    return {p.name: p for p in purposes}


def resolve_purpose(purposes: dict[str, Purpose], name: str) -> Purpose:
    purpose = purposes.get(name)
    if purpose is None:
        raise ValidationFailed(
            f"Unknown purpose {name!r}.",
            code="unknown_purpose",
            errors=[FieldProblem("purpose", f"must be one of {sorted(purposes)}")],
        )
    return purpose
