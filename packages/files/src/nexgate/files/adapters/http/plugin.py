"""The files context's Litestar plugin: mounts its controllers and its wiring."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol

from nexgate.files.adapters.http.controllers import build_controllers
from nexgate.files.adapters.wiring import build_deps
from nexgate.files.domain.errors import Busy
from nexgate.files.settings import FilesSettings
from nexgate.kernel.http.problems import Problem, domain_error_handler
from nexgate.kernel.runtime import Runtime


def _busy(request: Request[Any, Any, Any], exc: Busy) -> Response[Problem]:
    response = domain_error_handler(request, exc)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


class FilesPlugin(InitPluginProtocol):
    def __init__(self, runtime: Runtime, settings: FilesSettings | None = None) -> None:
        self._runtime = runtime
        self._settings = settings or FilesSettings()
        self.deps = build_deps(runtime, self._settings)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        settings = self._settings
        largest = max(limit for p in settings.purposes().values() for limit in p.limits.values())
        app_config.route_handlers.extend(build_controllers(settings.direct_upload_limit(), largest))
        deps = self.deps
        app_config.dependencies["files"] = Provide(lambda: deps, sync_to_thread=False)
        app_config.exception_handlers[Busy] = _busy
        return app_config
