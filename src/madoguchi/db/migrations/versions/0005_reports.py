"""Reports: legs, case facts, interval roll-ups, worker cursors, service-level definitions, CSAT.

Only new tables, so plain create_table works on SQLite and PostgreSQL alike (no batch rebuild).

Revision ID: 0005_reports
Revises: 0004_acd
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_reports"
down_revision = "0004_acd"
branch_labels = None
depends_on = None

MEASURES = (
    "offered", "handled", "handled_in_t", "abandoned", "abandoned_short", "abandoned_in_t", "flowed_out",
    "flowed_out_in_t", "wait_handled_ms", "wait_left_ms", "transferred", "handle_n", "handle_ms", "talk_ms",
    "hold_ms", "acw_ms", "csat_n", "csat_sum", "csat_good", "cases_resolved", "cases_fcr", "available_ms",
    "busy_ms", "wrap_ms", "break_ms", "logged_in_ms",
)


def upgrade() -> None:
    op.create_table(
        "report_legs",
        sa.Column("contact_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("leg", sa.SmallInteger(), nullable=False, autoincrement=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("inbound", sa.Boolean(), nullable=False),
        sa.Column("arrived_ms", sa.BigInteger(), nullable=False),
        sa.Column("queued_ms", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("left_ms", sa.BigInteger(), nullable=True),
        sa.Column("wait_ms", sa.BigInteger(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("answered_ms", sa.BigInteger(), nullable=True),
        sa.Column("ended_ms", sa.BigInteger(), nullable=True),
        sa.Column("wrapped_ms", sa.BigInteger(), nullable=True),
        sa.Column("hold_ms", sa.BigInteger(), nullable=True),
        sa.Column("talk_ms", sa.BigInteger(), nullable=True),
        sa.Column("acw_ms", sa.BigInteger(), nullable=True),
        sa.Column("handle_ms", sa.BigInteger(), nullable=True),
        sa.Column("transferred", sa.Boolean(), nullable=False),
        sa.Column("disposition_id", sa.Integer(), nullable=False),
        sa.Column("auto_wrap", sa.Boolean(), nullable=False),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("csat", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("contact_id", "leg", name="pk_report_legs"),
    )
    op.create_index("ix_report_legs_queue_queued", "report_legs", ["queue_id", "queued_ms"])
    op.create_index("ix_report_legs_agent_queued", "report_legs", ["agent_id", "queued_ms"])
    # The roll-up worker finds newly closed state spans by their end time.
    op.create_index("ix_agent_state_spans_ended_at", "agent_state_spans", ["ended_at"])

    op.create_table(
        "report_cases",
        sa.Column("case_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("resolved_ms", sa.BigInteger(), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("inbound", sa.Integer(), nullable=False),
        sa.Column("reopened", sa.Boolean(), nullable=False),
        sa.Column("fcr", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name="pk_report_cases"),
    )

    op.create_table(
        "report_rollups",
        sa.Column("dim", sa.String(12), nullable=False),
        sa.Column("grain", sa.String(4), nullable=False),
        sa.Column("bucket_ms", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("queue_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("disposition_id", sa.Integer(), nullable=False, autoincrement=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in MEASURES),
        sa.PrimaryKeyConstraint("dim", "grain", "bucket_ms", "queue_id", "channel", "agent_id", "disposition_id",
                                name="pk_report_rollups"),
        sqlite_with_rowid=False,
    )

    op.create_table(
        "report_cursors",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("gaps", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_report_cursors"),
    )
    op.create_table(
        "report_span_cursors",
        sa.Column("agent_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("last_span_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", name="pk_report_span_cursors"),
    )
    op.create_table(
        "report_queue_configs",
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("threshold_s", sa.Integer(), nullable=False),
        sa.Column("short_abandon_s", sa.Integer(), nullable=False),
        sa.Column("abandons", sa.String(20), nullable=False),
        sa.Column("short_abandons", sa.String(10), nullable=False),
        sa.Column("flow_outs", sa.String(10), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["queue_id"], ["queues.id"], name="fk_report_queue_configs_queue_id_queues",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("queue_id", name="pk_report_queue_configs"),
    )
    op.create_table(
        "csat_surveys",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=True),
        sa.Column("score", sa.SmallInteger(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name="fk_csat_surveys_contact_id_contacts"),
        sa.PrimaryKeyConstraint("contact_id", name="pk_csat_surveys"),
        sa.UniqueConstraint("token_hash", name="uq_csat_surveys_token_hash"),
    )


def downgrade() -> None:
    for table in ("csat_surveys", "report_queue_configs", "report_span_cursors", "report_cursors",
                  "report_rollups", "report_cases"):
        op.drop_table(table)
    op.drop_index("ix_agent_state_spans_ended_at", table_name="agent_state_spans")
    op.drop_index("ix_report_legs_agent_queued", table_name="report_legs")
    op.drop_index("ix_report_legs_queue_queued", table_name="report_legs")
    op.drop_table("report_legs")
