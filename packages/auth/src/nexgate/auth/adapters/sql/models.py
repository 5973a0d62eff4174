"""Tables of the ``auth`` schema, with the context's outbox and inbox."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from nexgate.kernel.sql.outbox import outbox_tables

SCHEMA = "auth"
metadata = sa.MetaData(schema=SCHEMA)
tables = outbox_tables(metadata)

_TS = sa.DateTime(timezone=True)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("status", sa.String(32), nullable=False),
    # Stored normalised: email trimmed and lower-cased, phone in E.164.
    sa.Column("email", sa.String(254)),
    sa.Column("phone", sa.String(20)),
    sa.Column("email_verified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("phone_verified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("password_hash", sa.Text),
    sa.Column("display_name", sa.String(80), nullable=False),
    sa.Column("requested_username", sa.String(64)),
    sa.Column("locale", sa.String(16), nullable=False),
    sa.Column("roles", pg.ARRAY(sa.String(16)), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("activated_at", _TS),
    #: When a scheduled deletion happens (status deletion_scheduled).
    sa.Column("deletion_at", _TS),
    #: When a suspension ends by itself (None: until staff lift it).
    sa.Column("suspended_until", _TS),
    sa.CheckConstraint("email IS NULL OR email = lower(btrim(email))", name="ck_accounts_email_normalised"),
    # The last line of defence against duplicate identifiers, racing registrations included.
    sa.Index("uq_accounts_email_live", "email", unique=True, postgresql_where=sa.text("status <> 'deleted'")),
    sa.Index("uq_accounts_phone_live", "phone", unique=True, postgresql_where=sa.text("status <> 'deleted'")),
)

challenges = sa.Table(
    "challenges",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("account_id", pg.UUID(as_uuid=True)),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("destination", sa.String(254), nullable=False),
    # HMAC-SHA256(pepper, challenge id || code): the code itself is never stored.
    sa.Column("code_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("decoy", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("expires_at", _TS, nullable=False),
    sa.Column("last_sent_at", _TS, nullable=False),
    sa.Column("consumed_at", _TS),
    sa.Column("superseded_at", _TS),
    sa.Index(
        "ix_challenges_open",
        "destination",
        "purpose",
        postgresql_where=sa.text("consumed_at IS NULL AND superseded_at IS NULL"),
    ),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("account_id", pg.UUID(as_uuid=True), nullable=False),
    # SHA-256 of (account id, device id): the device id itself is never stored.
    sa.Column("device_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("name", sa.String(80)),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("model", sa.String(80)),
    sa.Column("os_version", sa.String(40)),
    sa.Column("app_version", sa.String(40)),
    sa.Column("user_agent", sa.String(300)),
    sa.Column("ip", sa.String(64)),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("last_used_at", _TS, nullable=False),
    sa.Column("idle_expires_at", _TS, nullable=False),
    sa.Column("absolute_expires_at", _TS, nullable=False),
    sa.Column("revoked_at", _TS),
    sa.Column("revoked_reason", sa.String(40)),
    sa.Index(
        "ix_sessions_account_live",
        "account_id",
        "created_at",
        "id",
        postgresql_where=sa.text("revoked_at IS NULL"),
    ),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "session_id", pg.UUID(as_uuid=True), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False
    ),
    # SHA-256 of the opaque token: a stolen table yields no usable token.
    sa.Column("token_hash", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("rotated_at", _TS),
    sa.Column("successor_id", pg.UUID(as_uuid=True)),
    sa.Index("ix_refresh_tokens_session", "session_id"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("actor_id", pg.UUID(as_uuid=True)),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("target_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("details", pg.JSONB, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Index("ix_audit_log_target", "target_id", "created_at"),
)

identities = sa.Table(
    "identities",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "account_id", pg.UUID(as_uuid=True), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("provider", sa.String(32), nullable=False),
    # The provider's stable subject (``sub``): the identity, whatever the email does.
    sa.Column("subject", sa.String(255), nullable=False),
    # The verified email the provider gave when it was linked (None when it gave none).
    sa.Column("email", sa.String(254)),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("last_used_at", _TS, nullable=False),
    # One subject links to one account, whatever the race.
    sa.UniqueConstraint("provider", "subject", name="uq_identities_provider_subject"),
    sa.Index("ix_identities_account", "account_id"),
)
