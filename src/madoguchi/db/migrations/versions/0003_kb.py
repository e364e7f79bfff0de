"""Knowledge base, flows and flow sessions.

Revision ID: 0003_kb
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import madoguchi.db.base

revision = "0003_kb"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC = madoguchi.db.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kb_articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(120), nullable=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("category", sa.String(80), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"], name="fk_kb_articles_updated_by_users"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_articles"),
        sa.UniqueConstraint("external_id", name="uq_kb_articles_external_id"),
    )
    op.create_index("ix_kb_articles_status", "kb_articles", ["status"])
    op.create_index("ix_kb_articles_updated_at", "kb_articles", ["updated_at"])
    op.create_table(
        "kb_article_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("category", sa.String(80), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("author_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["kb_articles.id"], name="fk_kb_article_versions_article_id_kb_articles"),
        sa.ForeignKeyConstraint(["author_user_id"], ["users.id"], name="fk_kb_article_versions_author_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_article_versions"),
        sa.UniqueConstraint("article_id", "version", name="uq_kb_article_versions_version"),
    )
    op.create_table(
        "kb_vectors",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["kb_articles.id"], name="fk_kb_vectors_article_id_kb_articles"),
        sa.PrimaryKeyConstraint("article_id", name="pk_kb_vectors"),
    )
    op.create_index("ix_kb_vectors_model", "kb_vectors", ["model"])
    op.create_table(
        "flows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_flows"),
        sa.UniqueConstraint("name", name="uq_flows_name"),
    )
    op.create_table(
        "flow_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("author_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["flow_id"], ["flows.id"], name="fk_flow_versions_flow_id_flows"),
        sa.ForeignKeyConstraint(["author_user_id"], ["users.id"], name="fk_flow_versions_author_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_flow_versions"),
        sa.UniqueConstraint("flow_id", "version", name="uq_flow_versions_version"),
    )
    op.create_table(
        "flow_assignments",
        sa.Column("entry_point_id", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["entry_point_id"], ["entry_points.id"],
                                name="fk_flow_assignments_entry_point_id_entry_points"),
        sa.ForeignKeyConstraint(["flow_id"], ["flows.id"], name="fk_flow_assignments_flow_id_flows"),
        sa.PrimaryKeyConstraint("entry_point_id", name="pk_flow_assignments"),
    )
    op.create_table(
        "flow_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("flow_version_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("deadline_at", UTC, nullable=True),
        sa.Column("last_message_id", sa.BigInteger(), nullable=True),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name="fk_flow_sessions_contact_id_contacts"),
        sa.ForeignKeyConstraint(["flow_version_id"], ["flow_versions.id"],
                                name="fk_flow_sessions_flow_version_id_flow_versions"),
        sa.PrimaryKeyConstraint("id", name="pk_flow_sessions"),
        sa.UniqueConstraint("contact_id", name="uq_flow_sessions_contact_id"),
    )
    op.create_index("ix_flow_sessions_status", "flow_sessions", ["status"])
    op.create_index("ix_flow_sessions_deadline_at", "flow_sessions", ["deadline_at"])


def downgrade() -> None:
    op.drop_index("ix_flow_sessions_deadline_at", table_name="flow_sessions")
    op.drop_index("ix_flow_sessions_status", table_name="flow_sessions")
    op.drop_table("flow_sessions")
    op.drop_table("flow_assignments")
    op.drop_table("flow_versions")
    op.drop_table("flows")
    op.drop_index("ix_kb_vectors_model", table_name="kb_vectors")
    op.drop_table("kb_vectors")
    op.drop_table("kb_article_versions")
    op.drop_index("ix_kb_articles_updated_at", table_name="kb_articles")
    op.drop_index("ix_kb_articles_status", table_name="kb_articles")
    op.drop_table("kb_articles")
