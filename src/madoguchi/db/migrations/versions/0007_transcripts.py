"""Voice: transcripts of call recordings.

Revision ID: 0007_transcripts
Revises: 0006_voice
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import madoguchi.db.base

revision = "0007_transcripts"
down_revision = "0006_voice"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Utc = madoguchi.db.base.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "voice_transcripts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("recording", sa.String(200), nullable=False),
        sa.Column("speaker", sa.String(20), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("engine", sa.String(40), nullable=True),
        sa.Column("segments", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", Utc(timezone=True), nullable=False),
        sa.Column("finished_at", Utc(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name="fk_voice_transcripts_contact_id_contacts"),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name="fk_voice_transcripts_agent_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_voice_transcripts"),
        sa.UniqueConstraint("contact_id", "recording", name="uq_voice_transcripts_contact_id"),
    )
    op.create_index("ix_voice_transcripts_contact_id", "voice_transcripts", ["contact_id"])
    op.create_index("ix_voice_transcripts_status", "voice_transcripts", ["status"])


def downgrade() -> None:
    op.drop_index("ix_voice_transcripts_status", table_name="voice_transcripts")
    op.drop_index("ix_voice_transcripts_contact_id", table_name="voice_transcripts")
    op.drop_table("voice_transcripts")
