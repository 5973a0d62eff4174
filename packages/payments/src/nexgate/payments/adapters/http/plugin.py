"""The payments Litestar plugin: mounts its controllers and provides the service object."""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol

from nexgate.kernel.runtime import Runtime
from nexgate.payments.adapters.http.admin import (
    AdminAttemptController,
    AdminWalletController,
    AdminWithdrawalController,
)
from nexgate.payments.adapters.http.controllers import (
    AdminHoldController,
    CallbackController,
    HoldController,
    IntentController,
    PaymentsService,
    SandboxController,
    TransactionController,
    WalletController,
    WithdrawalController,
)
from nexgate.payments.adapters.http.methods import MethodController
from nexgate.payments.adapters.providers import build_daraja, build_sandbox, build_selcom, build_tembo
from nexgate.payments.adapters.sql.repository import sql_unit_of_work
from nexgate.payments.ports import MobileMoneyProvider, PayoutProvider
from nexgate.payments.settings import PaymentsSettings


def build_service(runtime: Runtime, settings: PaymentsSettings | None = None) -> PaymentsService:
    settings = settings or PaymentsSettings()
    sessions = runtime.database().sessions
    daraja = build_daraja(settings)
    sandbox = build_sandbox(runtime, settings)
    selcom, tembo = build_selcom(settings), build_tembo(settings)
    providers: dict[str, MobileMoneyProvider] = {"mpesa": daraja, "selcom": selcom, "tembo": tembo}
    payout_providers: dict[str, PayoutProvider] = {"mpesa": daraja, "selcom": selcom, "tembo": tembo}
    if sandbox is not None:
        providers["sandbox"] = sandbox
        payout_providers["sandbox"] = sandbox
    return PaymentsService(
        settings=settings,
        uow=sql_unit_of_work(sessions),
        providers=providers,
        sessions=sessions,
        payout_providers=payout_providers,
        sandbox=sandbox,
    )


class PaymentsPlugin(InitPluginProtocol):
    def __init__(self, runtime: Runtime) -> None:
        self._service = build_service(runtime)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.extend(
            [
                IntentController,
                WalletController,
                WithdrawalController,
                HoldController,
                AdminHoldController,
                CallbackController,
                SandboxController,
                MethodController,
                TransactionController,
                AdminWalletController,
                AdminWithdrawalController,
                AdminAttemptController,
            ]
        )
        service = self._service
        app_config.dependencies["payments"] = Provide(lambda: service, sync_to_thread=False)
        return app_config
