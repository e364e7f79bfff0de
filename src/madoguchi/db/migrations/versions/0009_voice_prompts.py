"""Voice: recorded prompts uploaded for IVR flows.

Revision ID: 0009_voice_prompts
Revises: 0008_callbacks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import madoguchi.db.base

revision = "0009_voice_prompts"
down_revision = "0008_callbacks"
branch_labels = None
depends_on = None

Utc = madoguchi.db.base.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "voice_prompts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("pcm", sa.LargeBinary(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", Utc(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"], name="fk_voice_prompts_updated_by_users"),
        sa.PrimaryKeyConstraint("id", name="pk_voice_prompts"),
        sa.UniqueConstraint("name", "language", name="uq_voice_prompts_name"),
    )


def downgrade() -> None:
    op.drop_table("voice_prompts")
