"""Voice: agents' SIP accounts and customer calls.

Revision ID: 0006_voice
Revises: 0004_acd
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import madoguchi.db.base

revision = "0006_voice"
down_revision = "0004_acd"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Utc = madoguchi.db.base.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "sip_accounts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("realm", sa.String(64), nullable=False),
        sa.Column("ha1", sa.String(32), nullable=False),
        sa.Column("created_at", Utc(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_sip_accounts_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_sip_accounts"),
        sa.UniqueConstraint("user_id", name="uq_sip_accounts_user_id"),
        sa.UniqueConstraint("username", name="uq_sip_accounts_username"),
    )
    op.create_table(
        "voice_calls",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("sip_call_id", sa.String(255), nullable=False),
        sa.Column("caller", sa.String(64), nullable=False),
        sa.Column("callee", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("digits", sa.String(64), nullable=True),
        sa.Column("end_reason", sa.String(20), nullable=True),
        sa.Column("recording_path", sa.String(500), nullable=True),
        sa.Column("created_at", Utc(timezone=True), nullable=False),
        sa.Column("answered_at", Utc(timezone=True), nullable=True),
        sa.Column("bridged_at", Utc(timezone=True), nullable=True),
        sa.Column("ended_at", Utc(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name="fk_voice_calls_contact_id_contacts"),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name="fk_voice_calls_agent_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_voice_calls"),
    )
    op.create_index("ix_voice_calls_contact_id", "voice_calls", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_voice_calls_contact_id", table_name="voice_calls")
    op.drop_table("voice_calls")
    op.drop_table("sip_accounts")
