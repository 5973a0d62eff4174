"""account ages: a replica of auth's registrations for the young-account review rule

Revision ID: 5e1d7a3c9b20
Revises: ba34f199c2e2
Create Date: 2026-11-25 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '5e1d7a3c9b20'
down_revision: str | None = 'ba34f199c2e2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'account_ages',
        sa.Column('user_id', sa.UUID(), nullable=False),
        sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('user_id'),
        schema='payments',
    )


def downgrade() -> None:
    op.drop_table('account_ages', schema='payments')
