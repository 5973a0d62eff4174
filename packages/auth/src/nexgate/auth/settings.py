"""Settings of the auth context (env prefix ``NEXGATE_AUTH_``).

Secrets have development defaults derived from a fixed string so that ``just dev`` works
out of the box; `AuthSettings.check_for` refuses them when the platform runs in production.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import SettingsConfigDict

from nexgate.auth.application.services import Limits, Policy
from nexgate.kernel.settings import NexgateSettings

_DEV = "nexgate-development-only"


def _dev_secret(name: str) -> bytes:
    return hashlib.sha256(f"{_DEV}:{name}".encode()).digest()


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ClientSecretJwtSettings(BaseModel):
    """Apple's client secret is an ES256 JWT signed with a key from the developer account."""

    team_id: str
    key_id: str
    #: PEM file of the P-256 private key (``AuthKey_<key id>.p8``).
    private_key_file: Path
    audience: str = "https://appleid.apple.com"


class OidcProviderSettings(BaseModel):
    """One OpenID provider (an entry of ``NEXGATE_AUTH_OIDC_PROVIDERS``, keyed by its path name)."""

    #: Every issuer form the provider signs with (Google uses two); ``iss`` must be one of them.
    issuers: list[str]
    discovery_url: str
    #: Android, iOS and web client ids; ``aud`` must be one of them.
    client_ids: list[str]
    #: RS256 only: ``none`` and HMAC algorithms are refused.
    algorithms: list[str] = Field(default_factory=lambda: ["RS256"])
    #: The token carries SHA-256(nonce) hex (Apple) rather than the nonce.
    hashed_nonce: bool = False
    #: Relay addresses at this domain never match an account by email (Apple).
    private_relay_domain: str | None = None
    #: The client id the code + PKCE path exchanges for (the web client); default the last one.
    code_client_id: str | None = None
    #: Static client secret of the code exchange (Google style).
    client_secret: str | None = None
    #: Apple style: the exchange's client secret is an ES256 JWT minted with this key.
    client_secret_jwt: ClientSecretJwtSettings | None = None

    @field_validator("algorithms")
    @classmethod
    def _rs256_only(cls, value: list[str]) -> list[str]:
        if not value or any(alg != "RS256" for alg in value):
            raise ValueError("only RS256 may be allowed")
        return value


class AuthSettings(NexgateSettings):
    model_config = SettingsConfigDict(env_prefix="NEXGATE_AUTH_")

    #: HMAC key for one-time codes (base64url, >= 32 bytes).
    otp_pepper: str = ""
    #: Secret for deriving refresh-token successors (base64url, >= 32 bytes).
    refresh_secret: str = ""
    #: AES-256 keys shared with notifications to encrypt codes in ``auth.otp_requested.v1``:
    #: JSON ``{"<key id>": "<base64url 32 bytes>"}``; the active one is ``otp_delivery_key_id``.
    otp_delivery_keys: dict[str, str] = Field(default_factory=dict)
    otp_delivery_key_id: str = ""
    #: Development stand-in for notifications: write each code to ``<data_dir>/dev-outbox/codes.log``.
    #: None: on in development only. Turning it on in production refuses to start.
    dev_code_delivery: bool | None = None
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    default_region: str = "TZ"
    allowed_regions: list[str] = Field(default_factory=lambda: ["TZ", "KE", "UG", "RW", "BI"])
    default_locale: str = "sw"
    #: Peers whose X-Forwarded-For is believed (load balancers); nobody else's is.
    trusted_proxies: list[str] = Field(default_factory=list)
    common_passwords_file: Path = Path(__file__).parent / "common_passwords.txt"
    # Rate limits: count per window (seconds).
    login_per_ip: tuple[int, int] = (20, 60)
    registrations_per_ip: tuple[int, int] = (10, 3600)
    code_sends_per_destination: tuple[int, int] = (5, 3600)
    code_sends_per_ip: tuple[int, int] = (20, 3600)
    code_checks_per_ip: tuple[int, int] = (30, 60)
    resets_per_identifier: tuple[int, int] = (3, 3600)
    refresh_per_session: tuple[int, int] = (30, 60)
    reauth_per_session: tuple[int, int] = (20, 900)
    reauth_per_account: tuple[int, int] = (40, 3600)
    # Lockout: failures within the window start a lock; each repeat doubles it, up to the cap.
    lockout_threshold: int = 10
    lockout_window_s: int = 900
    lockout_base_s: int = 900
    lockout_max_s: int = 86400
    #: OpenID providers: JSON ``{"google": {issuers, discovery_url, client_ids, ...}, "apple": ...}``.
    oidc_providers: dict[str, OidcProviderSettings] = Field(default_factory=dict)

    def check_for(self, environment: str) -> None:
        if environment == "production":
            missing = [
                name
                for name, value in (
                    ("NEXGATE_AUTH_OTP_PEPPER", self.otp_pepper),
                    ("NEXGATE_AUTH_REFRESH_SECRET", self.refresh_secret),
                    ("NEXGATE_AUTH_OTP_DELIVERY_KEYS", self.otp_delivery_keys),
                )
                if not value
            ]
            if missing:
                raise RuntimeError(f"set {', '.join(missing)}: development secrets are refused in production")

    def pepper(self) -> bytes:
        return _b64(self.otp_pepper) if self.otp_pepper else _dev_secret("otp-pepper")

    def refresh_key(self) -> bytes:
        return _b64(self.refresh_secret) if self.refresh_secret else _dev_secret("refresh")

    def delivery_keys(self) -> tuple[dict[str, bytes], str]:
        if not self.otp_delivery_keys:
            return {"dev": _dev_secret("otp-delivery")}, "dev"
        keys = {kid: _b64(key) for kid, key in self.otp_delivery_keys.items()}
        return keys, self.otp_delivery_key_id or next(iter(keys))

    def policy(self) -> Policy:
        words = self.common_passwords_file.read_text(encoding="utf-8").split()
        return Policy(
            default_region=self.default_region,
            allowed_regions=tuple(self.allowed_regions),
            common_passwords=frozenset(w.casefold() for w in words),
            default_locale=self.default_locale,
            limits=Limits(
                login_per_ip=self.login_per_ip,
                registrations_per_ip=self.registrations_per_ip,
                code_sends_per_destination=self.code_sends_per_destination,
                code_sends_per_ip=self.code_sends_per_ip,
                code_checks_per_ip=self.code_checks_per_ip,
                resets_per_identifier=self.resets_per_identifier,
                refresh_per_session=self.refresh_per_session,
                reauth_per_session=self.reauth_per_session,
                reauth_per_account=self.reauth_per_account,
            ),
        )
