"""Tables of the ``profiles`` schema, with the context's outbox and inbox.

Every rule that must hold under concurrency is a constraint: one profile per user
(primary key), one owner per lower-cased username (unique), one edge per pair
(primary keys on follows, requests, blocks and mutes), counters never negative (check).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from nexgate.kernel.sql.outbox import outbox_tables

SCHEMA = "profiles"
metadata = sa.MetaData(schema=SCHEMA)
tables = outbox_tables(metadata)
_UUID = pg.UUID(as_uuid=True)
_TS = sa.DateTime(timezone=True)

profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("user_id", _UUID, primary_key=True),
    sa.Column("username", sa.String(30), nullable=False),
    sa.Column("display_name", sa.String(50), nullable=False),
    sa.Column("bio", sa.String(160), nullable=False, server_default=""),
    sa.Column("avatar_file_id", _UUID, nullable=True),
    sa.Column("is_private", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("deactivated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("who_can_message", sa.String(20), nullable=False, server_default="everyone"),
    sa.Column("who_can_mention", sa.String(20), nullable=False, server_default="everyone"),
    sa.Column("show_activity", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("email_verified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("phone_verified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("followers_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("following_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("version", sa.BigInteger, nullable=False, server_default="1"),
    sa.Column("joined_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.Column("trust_score", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("trust_level", sa.String(20), nullable=False, server_default="new"),
    sa.Column("username_changed_at", _TS, nullable=True),
    sa.Column("location_label", sa.String(60), nullable=True),
    sa.Column("location_country", sa.String(2), nullable=True),
    sa.Column("links", pg.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    # The shown avatar's URL and blurhash (from files), and a new one still being processed:
    # the old avatar stays visible until files.media_ready.v1 names the pending file.
    sa.Column("avatar_url", sa.String(1000), nullable=True),
    sa.Column("avatar_blurhash", sa.String(100), nullable=True),
    sa.Column("avatar_pending_file_id", _UUID, nullable=True),
    sa.UniqueConstraint("username", name="uq_profiles_username"),
    sa.CheckConstraint("username = lower(username)", name="ck_profiles_username_lower"),
    sa.CheckConstraint("followers_count >= 0 AND following_count >= 0", name="ck_profiles_counts"),
    # Prefix search (`lower(username) LIKE 'ab%'`) walks this index whatever the collation.
    sa.Index("ix_profiles_username_prefix", sa.text("lower(username) text_pattern_ops")),
)

#: A username a user gave up (renamed or deleted) stays theirs for 14 days: only ``user_id``
#: may take it back until ``held_until``.
username_holds = sa.Table(
    "username_holds",
    metadata,
    sa.Column("username", sa.String(30), primary_key=True),
    sa.Column("user_id", _UUID, nullable=False),
    sa.Column("held_until", _TS, nullable=False),
)

#: One row per fact that feeds a user's trust score, keyed by the fact's own id, so a
#: redelivered message changes nothing and a reversal (an overturned report) is exact.
#: ``kind``: ``purchase`` / ``sale`` (counterparty = seller / buyer of a completed order),
#: ``commerce_rating`` / ``event_rating`` (rating 1-5), ``report`` (active = upheld now).
trust_inputs = sa.Table(
    "trust_inputs",
    metadata,
    sa.Column("user_id", _UUID, primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("source_id", _UUID, primary_key=True),
    sa.Column("counterparty_id", _UUID, nullable=True),
    sa.Column("rating", sa.SmallInteger, nullable=True),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("occurred_at", _TS, nullable=False),
    sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="ck_trust_inputs_rating"),
)

follows = sa.Table(
    "follows",
    metadata,
    sa.Column("follower_id", _UUID, primary_key=True),
    sa.Column("followee_id", _UUID, primary_key=True),
    sa.Column("id", _UUID, nullable=False, unique=True),
    sa.Column("via_request", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", _TS, nullable=False),
    sa.CheckConstraint("follower_id <> followee_id", name="ck_follows_not_self"),
    sa.Index("ix_follows_followee_created", "followee_id", "created_at", "id"),
    sa.Index("ix_follows_follower_created", "follower_id", "created_at", "id"),
)

follow_requests = sa.Table(
    "follow_requests",
    metadata,
    sa.Column("requester_id", _UUID, primary_key=True),
    sa.Column("target_id", _UUID, primary_key=True),
    sa.Column("id", _UUID, nullable=False, unique=True),
    sa.Column("created_at", _TS, nullable=False),
    sa.CheckConstraint("requester_id <> target_id", name="ck_follow_requests_not_self"),
    sa.Index("ix_follow_requests_target_created", "target_id", "created_at", "id"),
    sa.Index("ix_follow_requests_requester_created", "requester_id", "created_at", "id"),
)

blocks = sa.Table(
    "blocks",
    metadata,
    sa.Column("blocker_id", _UUID, primary_key=True),
    sa.Column("blocked_id", _UUID, primary_key=True),
    sa.Column("id", _UUID, nullable=False, unique=True),
    sa.Column("created_at", _TS, nullable=False),
    sa.CheckConstraint("blocker_id <> blocked_id", name="ck_blocks_not_self"),
    sa.Index("ix_blocks_blocked", "blocked_id", "blocker_id"),
)

mutes = sa.Table(
    "mutes",
    metadata,
    sa.Column("muter_id", _UUID, primary_key=True),
    sa.Column("muted_id", _UUID, primary_key=True),
    sa.Column("id", _UUID, nullable=False, unique=True),
    sa.Column("posts", sa.Boolean, nullable=False),
    sa.Column("notifications", sa.Boolean, nullable=False),
    sa.Column("expires_at", _TS, nullable=True),
    sa.Column("created_at", _TS, nullable=False),
    sa.CheckConstraint("muter_id <> muted_id", name="ck_mutes_not_self"),
)
