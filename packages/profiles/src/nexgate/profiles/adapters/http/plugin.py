"""The profiles Litestar plugin: mounts its controllers."""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from nexgate.kernel.runtime import Runtime
from nexgate.profiles.adapters.http.controllers import MeController, ProfileController


class ProfilesPlugin(InitPluginProtocol):
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.extend([MeController, ProfileController])
        return app_config
