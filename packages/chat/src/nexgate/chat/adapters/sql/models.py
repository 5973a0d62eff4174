"""Tables of the ``chat`` schema, with the context's outbox and inbox."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from nexgate.kernel.sql.outbox import outbox_tables

SCHEMA = "chat"
metadata = sa.MetaData(schema=SCHEMA)
tables = outbox_tables(metadata)

UUID = pg.UUID(as_uuid=True)
TS = sa.DateTime(timezone=True)

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    # A direct conversation is unique per (smaller, larger) user id pair.
    sa.Column("user_low", UUID, nullable=True),
    sa.Column("user_high", UUID, nullable=True),
    sa.Column("created_by", UUID, nullable=False),
    sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("last_message_id", UUID, nullable=True),
    sa.Column("last_activity_at", TS, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.UniqueConstraint("user_low", "user_high", name="uq_conversations_direct_pair"),
)

members = sa.Table(
    "members",
    metadata,
    sa.Column("conversation_id", UUID, primary_key=True),
    sa.Column("user_id", UUID, primary_key=True),
    sa.Column("request_state", sa.String(16), nullable=False),
    sa.Column("last_read_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("last_delivered_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("cleared_before_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("unread_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("muted_until", TS, nullable=True),
    sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("pinned", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("joined_at", TS, nullable=False),
    sa.Index("ix_members_user", "user_id"),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("conversation_id", UUID, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("sender_id", UUID, nullable=False),
    sa.Column("client_message_id", sa.String(64), nullable=False),
    # Hash of the request body under the client id: a replay with another body is refused.
    sa.Column("body_hash", sa.String(64), nullable=False),
    sa.Column("text", sa.Text, nullable=True),
    sa.Column("reply_to_message_id", UUID, nullable=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("edited_at", TS, nullable=True),
    sa.Column("deleted_for_everyone_at", TS, nullable=True),
    sa.UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
    # A clientMessageId is unique per sender: a retry is stored once, whatever the route.
    sa.UniqueConstraint("sender_id", "client_message_id", name="uq_messages_sender_client_message_id"),
)

# Attachments of a message (files' ``chat_attachment``), a snapshot kept fresh by files.* messages.
message_media = sa.Table(
    "message_media",
    metadata,
    sa.Column("message_id", UUID, primary_key=True),
    sa.Column("file_id", UUID, primary_key=True),
    sa.Column("position", sa.SmallInteger, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("mime_type", sa.String(128), nullable=True),
    sa.Column("width", sa.Integer, nullable=True),
    sa.Column("height", sa.Integer, nullable=True),
    sa.Column("duration_ms", sa.Integer, nullable=True),
    sa.Column("blurhash", sa.String(128), nullable=True),
    sa.Index("ix_message_media_file", "file_id"),
)

# The per-user event log: one gap-free ``user_seq`` stream per user (what sync replays).
user_cursors = sa.Table(
    "user_cursors",
    metadata,
    sa.Column("user_id", UUID, primary_key=True),
    sa.Column("last_user_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("delivered_user_seq", sa.BigInteger, nullable=False, server_default="0"),
)

user_events = sa.Table(
    "user_events",
    metadata,
    sa.Column("user_id", UUID, primary_key=True),
    sa.Column("user_seq", sa.BigInteger, primary_key=True),
    sa.Column("type", sa.String(48), nullable=False),
    sa.Column("payload", pg.JSONB, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    # The retention job deletes by age.
    sa.Index("ix_user_events_created_at", "created_at"),
)

user_settings = sa.Table(
    "user_settings",
    metadata,
    sa.Column("user_id", UUID, primary_key=True),
    sa.Column("read_receipts", sa.Boolean, nullable=False, server_default=sa.true()),
)

# Replicas of profiles' follows and privacy settings (who may message whom, showActivity).
follows = sa.Table(
    "follows",
    metadata,
    sa.Column("follower_id", UUID, primary_key=True),
    sa.Column("followee_id", UUID, primary_key=True),
    sa.Column("created_at", TS, nullable=False),
)

privacy = sa.Table(
    "privacy",
    metadata,
    sa.Column("user_id", UUID, primary_key=True),
    sa.Column("who_can_message", sa.String(24), nullable=False),
    sa.Column("show_activity", sa.Boolean, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
)

reactions = sa.Table(
    "reactions",
    metadata,
    sa.Column("message_id", UUID, primary_key=True),
    sa.Column("user_id", UUID, primary_key=True),
    sa.Column("emoji", sa.String(64), nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

# "Delete for me": messages hidden for one member only.
hidden_messages = sa.Table(
    "hidden_messages",
    metadata,
    sa.Column("user_id", UUID, primary_key=True),
    sa.Column("message_id", UUID, primary_key=True),
    sa.Column("hidden_at", TS, nullable=False),
)

# Replica of profiles' blocks (profiles.block_created.v1 / block_removed.v1).
blocks = sa.Table(
    "blocks",
    metadata,
    sa.Column("blocker_id", UUID, primary_key=True),
    sa.Column("blocked_id", UUID, primary_key=True),
    sa.Column("created_at", TS, nullable=False),
)

# Replica of profiles' snapshots (profile_created/updated, version-checked) for the
# conversation list. ``account_deactivated`` comes from auth (user_deactivated/reactivated),
# which carries no version: it is kept apart so a late profile snapshot cannot undo it. A row
# made by auth before any profile message has version 0 and no names yet.
profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("user_id", UUID, primary_key=True),
    sa.Column("username", sa.String(64)),
    sa.Column("display_name", sa.String(128)),
    sa.Column("avatar_url", sa.Text),
    sa.Column("avatar_blurhash", sa.String(128)),
    sa.Column("deactivated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("account_deactivated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
)

# Sessions revoked by auth (their sockets were closed through Redis).
revoked_sessions = sa.Table(
    "revoked_sessions",
    metadata,
    sa.Column("session_id", UUID, primary_key=True),
    sa.Column("user_id", UUID, nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("revoked_at", TS, nullable=False),
)
