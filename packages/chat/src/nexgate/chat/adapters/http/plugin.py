"""The chat's Litestar plugin: mounts its controllers."""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from nexgate.chat.adapters.http.controllers import ConversationController, MessageController
from nexgate.kernel.runtime import Runtime


class ChatPlugin(InitPluginProtocol):
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.extend([ConversationController, MessageController])
        return app_config
