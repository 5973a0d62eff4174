"""The skeleton's Litestar plugin: mounts its controllers."""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from nexgate.kernel.runtime import Runtime
from nexgate.skeleton.adapters.http.controllers import NoteController


class SkeletonPlugin(InitPluginProtocol):
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.append(NoteController)
        return app_config
