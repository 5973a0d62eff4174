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
    #: Seconds after which a Daraja attempt still unresolved becomes ``ambiguous`` (admin queue).
    mpesa_give_up_after_s: float = 3600.0
    #: How often the reconciliation jobs run.
    reconcile_interval_s: float = 30.0
    #: "<region>/<operator>" -> provider. Operators come from the prefix table or the payer's
    #: override (domain/methods.py); a pair missing here is 422 ``operator_not_supported``.
    routes: dict[str, str] = {
        "KE/safaricom": "mpesa",
        "TZ/vodacom": "selcom",
        "TZ/airtel": "tembo",
        "TZ/tigo": "tembo",
        "TZ/halotel": "tembo",
    }
    #: Mobile-money prompts per payer and per number within ``prompt_window_s`` (429 beyond):
    #: a phone is not to be spammed with PIN prompts.
    prompts_per_user: int = 20
    prompts_per_number: int = 10
    prompt_window_s: float = 600.0
    #: Holds whose ``release_key`` (an event) ended are released this long after the end.
    event_grace_s: float = 48 * 3600.0
    #: Holds still held (or disputed) this long after payment wait in the admin queue
    #: (`GET /admin/holds`); they are never released silently.
    max_hold_days: int = 30
    #: How often due holds (``auto_release_at``, ended release keys) are released.
    release_interval_s: float = 60.0

    #: The sandbox provider takes every mobile-money number (local demos, `just dev` without
    #: internet). Unset: on in development, off otherwise; refused in production.
    sandbox: bool | None = None
    #: Seconds before the sandbox "phone" answers on its own.
    sandbox_delay_s: float = 2.0

    # -- M-Pesa Daraja (Kenya, KES) ------------------------------------------------------
    mpesa_base_url: str = "https://sandbox.safaricom.co.ke"
    mpesa_consumer_key: str = ""
    mpesa_consumer_secret: str = ""
    mpesa_shortcode: str = "174379"
    mpesa_passkey: str = ""
    #: Seconds before the token's stated expiry at which we stop reusing it.
    mpesa_token_margin_s: int = 600
    #: B2C (payouts): the shortcode paying out, the initiator and its password, and the
    #: provider's public certificate (PEM) the password is encrypted under.
    mpesa_b2c_shortcode: str = "600000"
    mpesa_initiator_name: str = "testapi"
    mpesa_initiator_password: str = ""
    mpesa_certificate_pem: str = ""

    # -- Selcom (Tanzania, TZS; Vodacom numbers) ------------------------------------------
    selcom_base_url: str = "https://apigw.selcommobile.com/v1"
    selcom_api_key: str = ""
    selcom_api_secret: str = ""
    selcom_vendor: str = ""
    #: The vendor PIN that Selcom's wallet cash-in (payouts) requires, signed with the rest.
    selcom_pin: str = ""
    #: How far a webhook's Timestamp may be from our clock.
    selcom_callback_tolerance_s: float = 300.0
    #: Selcom: "do a transaction query status api after 3 mins interval".
    selcom_reconcile_after_s: float = 180.0

    # -- Tembo Plus (Tanzania, TZS; Airtel, Tigo/Yas, Halotel numbers) ----------------------
    tembo_base_url: str = "https://sandbox.temboplus.com/tembo/v1"
    tembo_account_id: str = ""
    tembo_secret_key: str = ""
    #: Our Tembo disbursement wallet (``accountNo`` of every payout).
    tembo_payout_account_no: str = ""
    #: Webhooks may come "seconds to hours" later: ask the status after this long.
    tembo_reconcile_after_s: float = 120.0
    #: How often the Tembo statements are compared with our records (daily).
    tembo_statement_interval_s: float = 86_400.0

    # -- withdrawals ------------------------------------------------------------------------
    #: Smallest and largest single withdrawal per currency, in minor units.
    withdrawal_minimum: dict[str, int] = {"KES": 10_00, "TZS": 1_000_00}
    withdrawal_maximum: dict[str, int] = {"KES": 150_000_00, "TZS": 3_000_000_00}
    #: Most withdrawn per user, currency and (UTC) day, and how many withdrawals a day.
    withdrawal_daily_maximum: dict[str, int] = {"KES": 300_000_00, "TZS": 5_000_000_00}
    withdrawals_per_day: int = 5
    #: Above this single amount a withdrawal waits for an admin (``in_review``).
    withdrawal_review_above: dict[str, int] = {"KES": 50_000_00, "TZS": 1_000_000_00}
    #: A withdrawal to a number the user never paid from waits for an admin.
    withdrawal_review_unverified: bool = True
    #: A withdrawal from an account younger than this (days since auth's ``user_registered``;
    #: unknown counts as young) waits for an admin. 0 turns the rule off.
    young_account_days: int = 7
    #: Withdrawal requests per user per hour (429 with Retry-After beyond).
    withdrawals_per_hour: int = 10
    #: Seconds after which an unsettled payout is looked at by reconciliation.
    payout_reconcile_after_s: float = 300.0
