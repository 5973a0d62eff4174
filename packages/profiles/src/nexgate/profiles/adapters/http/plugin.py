"""The profiles Litestar plugin: mounts its controllers."""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol

from nexgate.kernel.runtime import Runtime
from nexgate.profiles.adapters.http.controllers import MeController, ProfileController, UsernameController
from nexgate.profiles.adapters.media.files import FilesMediaResolver


class ProfilesPlugin(InitPluginProtocol):
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        media = FilesMediaResolver(self._runtime)
        app_config.route_handlers.extend([MeController, UsernameController, ProfileController])
        app_config.dependencies["profiles_media"] = Provide(lambda: media, sync_to_thread=False)
        return app_config
