"""add identities: accounts linked to OpenID providers (one account per provider subject)

Revision ID: a0a6c4eb092d
Revises: f877af7963b5
Create Date: 2026-11-25 17:37:54.274541
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'a0a6c4eb092d'
down_revision: str | None = 'f877af7963b5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('identities',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('account_id', sa.UUID(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['auth.accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider', 'subject', name='uq_identities_provider_subject'),
    schema='auth'
    )
    op.create_index('ix_identities_account', 'identities', ['account_id'], unique=False, schema='auth')


def downgrade() -> None:
    op.drop_index('ix_identities_account', table_name='identities', schema='auth')
    op.drop_table('identities', schema='auth')
