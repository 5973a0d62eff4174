"""Settings of the skeleton context (env prefix ``NEXGATE_SKELETON_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from nexgate.kernel.settings import NexgateSettings


class SkeletonSettings(NexgateSettings):
    model_config = SettingsConfigDict(env_prefix="NEXGATE_SKELETON_")

    demo_note: str = "Karibu Nexgate!"
