"""Voice: the number a waiting caller asked to be called back at.

Revision ID: 0008_callbacks
Revises: 0007_transcripts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_callbacks"
down_revision = "0007_transcripts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("voice_calls") as batch:
        batch.add_column(sa.Column("callback_number", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("voice_calls") as batch:
        batch.drop_column("callback_number")
