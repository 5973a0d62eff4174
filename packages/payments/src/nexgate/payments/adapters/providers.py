"""The provider adapters, built from settings (shared by the api plugin and the worker jobs)."""

from __future__ import annotations

from nexgate.kernel.runtime import Runtime
from nexgate.payments.adapters.mpesa.daraja import DarajaProvider
from nexgate.payments.adapters.sandbox.provider import SandboxProvider, sandbox_enabled
from nexgate.payments.adapters.selcom.provider import SelcomProvider
from nexgate.payments.adapters.tembo.provider import TemboProvider
from nexgate.payments.settings import PaymentsSettings


def build_daraja(settings: PaymentsSettings) -> DarajaProvider:
    return DarajaProvider(
        base_url=settings.mpesa_base_url,
        consumer_key=settings.mpesa_consumer_key,
        consumer_secret=settings.mpesa_consumer_secret,
        shortcode=settings.mpesa_shortcode,
        passkey=settings.mpesa_passkey,
        timeout_s=settings.provider_timeout_s,
        token_margin_s=settings.mpesa_token_margin_s,
        b2c_shortcode=settings.mpesa_b2c_shortcode,
        initiator_name=settings.mpesa_initiator_name,
        initiator_password=settings.mpesa_initiator_password,
        certificate_pem=settings.mpesa_certificate_pem,
        status_result_url=(
            f"{settings.callback_base_url.rstrip('/')}/api/v1/payments/callbacks/mpesa-b2c-status/"
            f"{settings.callback_token}"
        ),
    )


def build_sandbox(runtime: Runtime, settings: PaymentsSettings) -> SandboxProvider | None:
    """The sandbox provider when enabled for this environment (never in production)."""
    if not sandbox_enabled(settings.sandbox, runtime.settings.environment):
        return None
    return SandboxProvider(
        runtime.redis, key_prefix=runtime.settings.redis_prefix, delay_s=settings.sandbox_delay_s
    )


def build_selcom(settings: PaymentsSettings) -> SelcomProvider:
    return SelcomProvider(
        base_url=settings.selcom_base_url,
        api_key=settings.selcom_api_key,
        api_secret=settings.selcom_api_secret,
        vendor=settings.selcom_vendor,
        pin=settings.selcom_pin,
        timeout_s=settings.provider_timeout_s,
        tolerance_s=settings.selcom_callback_tolerance_s,
    )


def build_tembo(settings: PaymentsSettings) -> TemboProvider:
    return TemboProvider(
        base_url=settings.tembo_base_url,
        account_id=settings.tembo_account_id,
        secret_key=settings.tembo_secret_key,
        payout_account_no=settings.tembo_payout_account_no,
        timeout_s=settings.provider_timeout_s,
    )
