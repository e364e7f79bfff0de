"""ACD: agent skills and routing settings, queue routing policy, named-agent transfers.

Revision ID: 0004_acd
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_acd"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agent_profiles") as batch:
        batch.add_column(sa.Column("skills", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch.add_column(sa.Column("voice_exclusive", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("missed_offers", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("queues") as batch:
        batch.add_column(sa.Column("strategy", sa.String(20), nullable=False, server_default="longest_idle"))
        batch.add_column(sa.Column("requirements", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("relaxation", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("overflow", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("priority_step_s", sa.Integer(), nullable=False, server_default="60"))
        batch.add_column(sa.Column("sticky_window_s", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("wrap_up_limit_s", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("default_aht_s", sa.Integer(), nullable=False, server_default="300"))
        batch.add_column(sa.Column("hours", sa.JSON(), nullable=True))
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("target_agent_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_contacts_target_agent_id_users", "users", ["target_agent_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_constraint("fk_contacts_target_agent_id_users", type_="foreignkey")
        batch.drop_column("target_agent_id")
    with op.batch_alter_table("queues") as batch:
        for column in ("hours", "default_aht_s", "wrap_up_limit_s", "sticky_window_s", "priority_step_s", "overflow",
                       "relaxation", "requirements", "strategy"):
            batch.drop_column(column)
    with op.batch_alter_table("agent_profiles") as batch:
        for column in ("missed_offers", "voice_exclusive", "skills"):
            batch.drop_column(column)
