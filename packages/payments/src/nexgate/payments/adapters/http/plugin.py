"""The payments Litestar plugin: mounts its controllers and provides the service object."""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol

from nexgate.kernel.runtime import Runtime
from nexgate.payments.adapters.http.controllers import (
    CallbackController,
    IntentController,
    PaymentsService,
    WalletController,
)
from nexgate.payments.adapters.mpesa.daraja import DarajaProvider
from nexgate.payments.adapters.sql.repository import sql_unit_of_work
from nexgate.payments.settings import PaymentsSettings


def build_service(runtime: Runtime, settings: PaymentsSettings | None = None) -> PaymentsService:
    settings = settings or PaymentsSettings()
    sessions = runtime.database().sessions
    daraja = DarajaProvider(
        base_url=settings.mpesa_base_url,
        consumer_key=settings.mpesa_consumer_key,
        consumer_secret=settings.mpesa_consumer_secret,
        shortcode=settings.mpesa_shortcode,
        passkey=settings.mpesa_passkey,
        timeout_s=settings.provider_timeout_s,
        token_margin_s=settings.mpesa_token_margin_s,
    )
    return PaymentsService(
        settings=settings, uow=sql_unit_of_work(sessions), providers={"mpesa": daraja}, sessions=sessions
    )


class PaymentsPlugin(InitPluginProtocol):
    def __init__(self, runtime: Runtime) -> None:
        self._service = build_service(runtime)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.extend([IntentController, WalletController, CallbackController])
        service = self._service
        app_config.dependencies["payments"] = Provide(lambda: service, sync_to_thread=False)
        return app_config
