"""Settings of the profiles context (env prefix ``NEXGATE_PROFILES_``). None are needed yet."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from nexgate.kernel.settings import NexgateSettings


class ProfilesSettings(NexgateSettings):
    model_config = SettingsConfigDict(env_prefix="NEXGATE_PROFILES_")
