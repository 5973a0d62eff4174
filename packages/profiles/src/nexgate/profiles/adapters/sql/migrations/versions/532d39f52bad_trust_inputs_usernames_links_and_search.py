"""trust inputs, username holds, location and links, prefix search index

Revision ID: 532d39f52bad
Revises: 2c89e307f0a8
Create Date: 2026-11-25 17:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "532d39f52bad"
down_revision: str | None = "2c89e307f0a8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trust_inputs",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.UUID(), nullable=False),
        sa.Column("counterparty_id", sa.UUID(), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="ck_trust_inputs_rating"),
        sa.PrimaryKeyConstraint("user_id", "kind", "source_id"),
        schema="profiles",
    )
    op.create_table(
        "username_holds",
        sa.Column("username", sa.String(length=30), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username"),
        schema="profiles",
    )
    op.add_column(
        "profiles", sa.Column("trust_score", sa.SmallInteger(), server_default="0", nullable=False), schema="profiles"
    )
    op.add_column(
        "profiles",
        sa.Column("trust_level", sa.String(length=20), server_default="new", nullable=False),
        schema="profiles",
    )
    op.add_column(
        "profiles", sa.Column("username_changed_at", sa.DateTime(timezone=True), nullable=True), schema="profiles"
    )
    op.add_column("profiles", sa.Column("location_label", sa.String(length=60), nullable=True), schema="profiles")
    op.add_column("profiles", sa.Column("location_country", sa.String(length=2), nullable=True), schema="profiles")
    op.add_column(
        "profiles",
        sa.Column(
            "links", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        schema="profiles",
    )
    op.add_column("profiles", sa.Column("avatar_url", sa.String(length=1000), nullable=True), schema="profiles")
    op.add_column("profiles", sa.Column("avatar_blurhash", sa.String(length=100), nullable=True), schema="profiles")
    op.add_column("profiles", sa.Column("avatar_pending_file_id", sa.UUID(), nullable=True), schema="profiles")
    op.create_index(
        "ix_profiles_username_prefix",
        "profiles",
        [sa.text("lower(username) text_pattern_ops")],
        unique=False,
        schema="profiles",
    )


def downgrade() -> None:
    op.drop_index("ix_profiles_username_prefix", table_name="profiles", schema="profiles")
    for column in ("avatar_pending_file_id", "avatar_blurhash", "avatar_url", "links", "location_country", "location_label", "username_changed_at", "trust_level", "trust_score"):
        op.drop_column("profiles", column, schema="profiles")
    op.drop_table("username_holds", schema="profiles")
    op.drop_table("trust_inputs", schema="profiles")
