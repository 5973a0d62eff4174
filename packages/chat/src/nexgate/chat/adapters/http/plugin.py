"""The chat's Litestar plugin: mounts its controllers."""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol

from nexgate.chat.adapters.http.controllers import ConversationController, MessageController
from nexgate.chat.adapters.http.realtime import realtime_handlers
from nexgate.chat.adapters.realtime import RealtimeBus
from nexgate.kernel.runtime import Runtime


class ChatPlugin(InitPluginProtocol):
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        bus = RealtimeBus(self._runtime.redis, self._runtime.settings.redis_prefix)
        app_config.dependencies["chat_realtime"] = Provide(lambda: bus, sync_to_thread=False)
        app_config.route_handlers.extend(
            [ConversationController, MessageController, *realtime_handlers(self._runtime)]
        )
        return app_config
