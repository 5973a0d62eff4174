"""Settings of the chat context (env prefix ``NEXGATE_CHAT_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from nexgate.kernel.settings import NexgateSettings


class ChatSettings(NexgateSettings):
    model_config = SettingsConfigDict(env_prefix="NEXGATE_CHAT_")

    #: Seconds between ``heartbeat {latestUserSeq}`` frames (and presence refreshes).
    heartbeat_s: float = 30.0
    #: Seconds a browser has to send its first ``auth`` frame (else close 4408).
    auth_timeout_s: float = 10.0
    #: Events waiting for one socket; a socket that falls further behind is closed with 1013.
    socket_queue: int = 500
    #: Per-user event log retention, in days (older cursors get 410 ``cursor_expired``).
    event_retention_days: int = 30
    #: Sends per user per window, over HTTP and the socket together (429 ``rate_limited``).
    send_limit: int = 20
    send_window_s: float = 10.0
    #: Seconds before the token's expiry when the socket asks for a fresh one.
    reauth_before_s: float = 60.0
