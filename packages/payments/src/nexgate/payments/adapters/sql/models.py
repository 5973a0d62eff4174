"""Tables of the ``payments`` schema (lane B), with the context's outbox and inbox.

The ledger's last lines of defence live in the database too (see the first migration):
a CHECK floors every account but provider clearing at zero, a deferred constraint trigger
rejects an entry whose postings do not sum to zero per currency at commit, and a trigger
refuses UPDATE and DELETE of entries and postings (corrections are reversals).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from nexgate.kernel.sql.outbox import outbox_tables

SCHEMA = "payments"
metadata = sa.MetaData(schema=SCHEMA)
tables = outbox_tables(metadata)

UUID = pg.UUID(as_uuid=True)
TS = sa.DateTime(timezone=True)

accounts = sa.Table(
    "accounts",
    metadata,
    # Ascending bigint ids give every transaction the same lock order.
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("key", sa.String(120), nullable=False, unique=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("owner_id", UUID),
    sa.Column("hold_id", UUID),
    sa.Column("provider", sa.String(32)),
    sa.Column("balance", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("frozen", sa.Boolean, nullable=False, server_default=sa.false()),
    #: Who froze a wallet: ``admin`` (only an admin unfreezes) or ``owner`` (the owner may).
    sa.Column("frozen_by", sa.String(20)),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("kind = 'provider_clearing' OR balance >= 0", name="ck_accounts_floor"),
    sa.CheckConstraint(
        "kind IN ('wallet', 'escrow', 'platform_revenue', 'payouts_in_flight', 'provider_clearing')",
        name="ck_accounts_kind",
    ),
    sa.Index("ix_accounts_owner", "owner_id", postgresql_where=sa.text("owner_id IS NOT NULL")),
)

journal_entries = sa.Table(
    "journal_entries",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("reference", sa.String(200), nullable=False),
    sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
)

postings = sa.Table(
    "postings",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("entry_id", UUID, sa.ForeignKey("payments.journal_entries.id"), nullable=False),
    sa.Column("account_id", sa.BigInteger, sa.ForeignKey("payments.accounts.id"), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    #: The account's balance after this posting (a running statement).
    sa.Column("balance_after", sa.BigInteger, nullable=False),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("amount <> 0", name="ck_postings_nonzero"),
    sa.Index("ix_postings_account", "account_id", "id"),
    sa.Index("ix_postings_entry", "entry_id"),
)

intents = sa.Table(
    "intents",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    #: Who created it: ``user:<id>`` or ``system:<context>``; only that owner acts on it.
    sa.Column("owner", sa.String(80), nullable=False),
    sa.Column("payer_id", UUID, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("purpose", sa.String(20), nullable=False),
    sa.Column("reference", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.CheckConstraint("amount > 0", name="ck_intents_positive"),
    sa.UniqueConstraint("owner", "idempotency_key", name="uq_intents_idempotency"),
    sa.Index(
        "uq_intents_live_reference",
        "owner",
        "purpose",
        "reference",
        unique=True,
        postgresql_where=sa.text("status IN ('requires_payment', 'processing')"),
    ),
    sa.Index("ix_intents_payer", "payer_id", "created_at"),
)

holds = sa.Table(
    "holds",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("intent_id", UUID, sa.ForeignKey("payments.intents.id"), nullable=False),
    sa.Column("payer_id", UUID, nullable=False),
    sa.Column("payee_id", UUID, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("held", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("reference", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("fee_bps", sa.Integer, nullable=False),
    #: Releases every hold carrying it when the thing ends (an event id) plus a grace window.
    sa.Column("release_key", sa.String(200)),
    #: Released by the scheduler once due (unless disputed, refunded or released before).
    sa.Column("auto_release_at", TS),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.CheckConstraint("amount > 0 AND held >= 0 AND held <= amount", name="ck_holds_amounts"),
    sa.Index("ix_holds_intent", "intent_id"),
    sa.Index("ix_holds_payee", "payee_id", "created_at", "id"),
    sa.Index("ix_holds_payer", "payer_id", "created_at", "id"),
    sa.Index("ix_holds_release_key", "release_key", postgresql_where=sa.text("release_key IS NOT NULL")),
    sa.Index(
        "ix_holds_auto_release",
        "auto_release_at",
        postgresql_where=sa.text("status = 'held' AND auto_release_at IS NOT NULL"),
    ),
)

#: "This thing has ended": the owner's holds with the key become releasable at ``release_after``.
release_keys = sa.Table(
    "release_keys",
    metadata,
    #: The context that said so (``system:events``); it only releases its own intents' holds.
    sa.Column("owner", sa.String(80), primary_key=True),
    sa.Column("release_key", sa.String(200), primary_key=True),
    sa.Column("release_after", TS, nullable=False),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
)

#: Mobile-money numbers a user pays with (never card numbers).
payment_methods = sa.Table(
    "payment_methods",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("user_id", UUID, nullable=False),
    sa.Column("phone", sa.String(20), nullable=False),
    sa.Column("region", sa.String(2), nullable=False),
    #: Derived from the prefix table; ``operator_override`` is what the user said.
    sa.Column("operator", sa.String(20)),
    sa.Column("operator_override", sa.String(20)),
    sa.Column("label", sa.String(60)),
    sa.Column("is_default", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("verified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("user_id", "phone", name="uq_payment_methods_phone"),
    sa.Index("uq_payment_methods_default", "user_id", unique=True, postgresql_where=sa.text("is_default")),
    sa.Index("ix_payment_methods_user", "user_id", "created_at", "id"),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("intent_id", UUID, sa.ForeignKey("payments.intents.id"), nullable=False),
    sa.Column("payer_id", UUID, nullable=False),
    sa.Column("method", sa.String(20), nullable=False),
    sa.Column("provider", sa.String(32)),
    sa.Column("phone", sa.String(20)),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    #: The provider's id for our request (Daraja CheckoutRequestID), unique per provider.
    sa.Column("provider_ref", sa.String(100)),
    #: The provider's receipt for the money (Daraja MpesaReceiptNumber).
    sa.Column("provider_txn_id", sa.String(100)),
    sa.Column("failure_reason", sa.String(40)),
    sa.Column("suspicious", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Index(
        "uq_attempts_one_pending",
        "intent_id",
        unique=True,
        postgresql_where=sa.text("status IN ('initiated', 'pending')"),
    ),
    sa.Index(
        "uq_attempts_one_succeeded",
        "intent_id",
        unique=True,
        postgresql_where=sa.text("status = 'succeeded'"),
    ),
    sa.Index(
        "uq_attempts_provider_ref",
        "provider",
        "provider_ref",
        unique=True,
        postgresql_where=sa.text("provider_ref IS NOT NULL"),
    ),
    sa.Index("ix_attempts_status_created", "status", "created_at"),
)

#: One row per provider transaction that took effect: the callback dedupe, written in the
#: same transaction as the ledger entry.
provider_transactions = sa.Table(
    "provider_transactions",
    metadata,
    sa.Column("provider", sa.String(32), primary_key=True),
    sa.Column("provider_txn_id", sa.String(100), primary_key=True),
    sa.Column("attempt_id", UUID, nullable=False),
    sa.Column("entry_id", UUID, nullable=False),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
)

#: Every callback as received (phone numbers redacted), with what we made of it.
callbacks = sa.Table(
    "callbacks",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("body", pg.JSONB, nullable=False),
    sa.Column("provider_ref", sa.String(100)),
    sa.Column("outcome", sa.String(40), nullable=False, server_default="received"),
    sa.Column("received_at", TS, nullable=False, server_default=sa.func.now()),
)

#: One row per refund instruction: the request's idempotency key per (hold, actor), and
#: the ledger entry it posted (ledger key ``refund:<id>``).
refunds = sa.Table(
    "refunds",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("hold_id", UUID, sa.ForeignKey("payments.holds.id"), nullable=False),
    sa.Column("actor", sa.String(80), nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    #: What the hold still held after this refund.
    sa.Column("remaining", sa.BigInteger, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.CheckConstraint("amount > 0 AND remaining >= 0", name="ck_refunds_amounts"),
    sa.UniqueConstraint("hold_id", "actor", "idempotency_key", name="uq_refunds_idempotency"),
)


#: Withdrawals to mobile money. The amount leaves the wallet (to payouts in flight) in the
#: transaction that creates the row; a result settles it to clearing or returns it.
#: A replica of auth's registrations (``auth.user_registered.v1``): how old an account is.
account_ages = sa.Table(
    "account_ages",
    metadata,
    sa.Column("user_id", UUID, primary_key=True),
    sa.Column("registered_at", TS, nullable=False),
)

payouts = sa.Table(
    "payouts",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("user_id", UUID, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("phone", sa.String(20), nullable=False),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=False),
    #: The provider's id (Daraja ConversationID).
    sa.Column("provider_ref", sa.String(100)),
    #: The provider's receipt (Daraja TransactionID).
    sa.Column("receipt", sa.String(100)),
    sa.Column("failure_reason", sa.String(40)),
    sa.Column("suspicious", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.CheckConstraint("amount > 0", name="ck_payouts_positive"),
    sa.UniqueConstraint("user_id", "idempotency_key", name="uq_payouts_idempotency"),
    sa.Index("ix_payouts_user", "user_id", "created_at", "id"),
    sa.Index("ix_payouts_status_created", "status", "created_at"),
)
