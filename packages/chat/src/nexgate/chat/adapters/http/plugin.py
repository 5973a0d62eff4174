"""The chat's Litestar plugin: mounts its controllers and the socket."""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol

from nexgate.chat.adapters.http.controllers import ConversationController, MessageController
from nexgate.chat.adapters.http.realtime import realtime_handlers
from nexgate.chat.adapters.wiring import ChatWiring
from nexgate.kernel.runtime import Runtime


class ChatPlugin(InitPluginProtocol):
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        wiring = ChatWiring(self._runtime)
        app_config.dependencies["chat"] = Provide(lambda: wiring, sync_to_thread=False)
        app_config.on_shutdown.append(wiring.hub.aclose)
        app_config.route_handlers.extend(
            [ConversationController, MessageController, *realtime_handlers(wiring)]
        )
        return app_config
