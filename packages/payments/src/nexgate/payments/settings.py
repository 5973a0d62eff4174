"""Settings of the payments context (env prefix ``NEXGATE_PAYMENTS_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from nexgate.kernel.settings import NexgateSettings


class PaymentsSettings(NexgateSettings):
    model_config = SettingsConfigDict(env_prefix="NEXGATE_PAYMENTS_")

    #: Platform fee on each escrow release, in basis points (500 = 5 %).
    fee_bps: int = 500
    #: Where providers reach us: ``<base>/api/v1/payments/callbacks/<provider>/<token>``.
    callback_base_url: str = "http://127.0.0.1:8000"
    #: The secret path token of the callback routes; the previous one stays valid while rotating.
    callback_token: str = "dev-callback-token-change-me"  # noqa: S105 - a development default
    callback_token_previous: str = ""
    #: Seconds an intent lives unpaid by default.
    intent_ttl_s: int = 3600
    provider_timeout_s: float = 15.0
    #: Seconds after which a pending Daraja attempt is queried instead of awaiting the callback.
    mpesa_reconcile_after_s: float = 90.0

    # -- M-Pesa Daraja (Kenya, KES) ------------------------------------------------------
    mpesa_base_url: str = "https://sandbox.safaricom.co.ke"
    mpesa_consumer_key: str = ""
    mpesa_consumer_secret: str = ""
    mpesa_shortcode: str = "174379"
    mpesa_passkey: str = ""
    #: Seconds before the token's stated expiry at which we stop reusing it.
    mpesa_token_margin_s: int = 600
