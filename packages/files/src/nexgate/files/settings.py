"""Settings of the files context (env prefix ``NEXGATE_FILES_``).

Purposes are settings: ``NEXGATE_FILES_EXTRA_PURPOSES='{"shop_banner": {"limits": {"image": 20971520}}}'``
adds one without code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from nexgate.files.domain.purposes import Kind, Purpose, Visibility, default_purposes
from nexgate.kernel.settings import NexgateSettings


class PurposeSetting(BaseModel):
    limits: dict[Kind, int]
    visibility: Visibility = Visibility.PUBLIC
    square: bool = False
    max_duration_s: int = 180


class FilesSettings(NexgateSettings):
    model_config = SettingsConfigDict(env_prefix="NEXGATE_FILES_")

    storage: Literal["filesystem", "s3"] = "filesystem"
    #: Filesystem adapter: where blobs live; empty means ``<NEXGATE_DATA_DIR>/files``.
    storage_dir: str = ""
    #: Where public variants are served from; empty means the app's own ``/media`` route.
    public_base_url: str = ""
    #: Signs the app's private media URLs (filesystem adapter); set it in production.
    url_secret: str = "dev-files-url-secret-change-me"  # noqa: S105
    signed_url_ttl_s: int = 300
    signed_url_max_ttl_s: int = 3600
    # S3 adapter
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    s3_public_bucket: str = "nexgate-public"
    s3_private_bucket: str = "nexgate-private"
    # Limits
    #: A file whose last reference went away is deleted after this long.
    detached_grace_s: int = 3600
    #: A file never attached is deleted after this long (0: never). Off until the contexts
    #: that own references (profiles, commerce, events, social) call `files.api.attach`:
    #: until then every avatar and product image would count as never attached.
    unattached_grace_s: int = 0
    quota_bytes: int = 2 * 1024**3
    daily_uploads: int = 300
    max_pixels: int = 40_000_000
    max_side: int = 12_000
    #: Images processed at once in the api process; more wait briefly, then get 503 busy.
    image_workers: int = 2
    image_queue_wait_s: float = 5.0
    extra_purposes: dict[str, PurposeSetting] = Field(default_factory=dict)

    def purposes(self) -> dict[str, Purpose]:
        purposes = default_purposes()
        for name, spec in self.extra_purposes.items():
            purposes[name] = Purpose(
                name,
                dict(spec.limits),
                visibility=spec.visibility,
                square=spec.square,
                max_duration_s=spec.max_duration_s,
            )
        return purposes

    def direct_upload_limit(self) -> int:
        """The largest byte limit of any purpose and kind a direct upload accepts."""
        direct = (Kind.IMAGE, Kind.DOCUMENT, Kind.AUDIO)
        return max(
            limit for p in self.purposes().values() for kind, limit in p.limits.items() if kind in direct
        )
