"""The auth context's Litestar plugin: mounts its controllers and provides its services."""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Request
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol

from nexgate.auth.adapters.http.controllers import (
    AdminController,
    ClientAddress,
    IdentitiesController,
    JwksController,
    LoginController,
    MeController,
    OidcController,
    RegistrationController,
    StaffController,
)
from nexgate.auth.adapters.wiring import build_services, jwks_document
from nexgate.auth.settings import AuthSettings
from nexgate.kernel.runtime import Runtime


class AuthPlugin(InitPluginProtocol):
    def __init__(self, runtime: Runtime, settings: AuthSettings | None = None) -> None:
        self._settings = settings or AuthSettings()
        self._settings.check_for(runtime.settings.environment)
        # Discovery, JWKS and token endpoints of the OpenID providers (closed with the app).
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(5.0), follow_redirects=False)
        self._services = build_services(runtime, self._settings, http=self._http)
        self._jwks = jwks_document(runtime)
        self._address = ClientAddress(self._settings.trusted_proxies)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        services, jwks, address, http = self._services, self._jwks, self._address, self._http

        def client_ip(request: Request[Any, Any, Any]) -> str:
            return address.of(request)

        app_config.route_handlers.extend(
            [
                RegistrationController,
                LoginController,
                MeController,
                AdminController,
                StaffController,
                JwksController,
                OidcController,
                IdentitiesController,
            ]
        )
        app_config.on_shutdown.append(http.aclose)
        app_config.dependencies.update(
            {
                "auth_services": Provide(lambda: services, sync_to_thread=False),
                "auth_jwks": Provide(lambda: jwks, sync_to_thread=False),
                "client_ip": Provide(client_ip, sync_to_thread=False),
            }
        )
        return app_config
