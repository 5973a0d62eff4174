"""Settings of the chat context (env prefix ``NEXGATE_CHAT_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from nexgate.kernel.settings import NexgateSettings


class ChatSettings(NexgateSettings):
    model_config = SettingsConfigDict(env_prefix="NEXGATE_CHAT_")
