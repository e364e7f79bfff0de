"""Email channel: raw receipts, emails in contacts, attachments, threads, outbox, templates,
IMAP mailboxes, per-queue first-response targets.

Revision ID: 0002_email
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import madoguchi.db.base

revision = "0002_email"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Utc = madoguchi.db.base.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "email_inbound",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("entry_point_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("source_ref", sa.String(120), nullable=True),
        sa.Column("mail_from", sa.String(320), nullable=False),
        sa.Column("rcpt_to", sa.JSON(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("email_message_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("received_at", Utc(timezone=True), nullable=False),
        sa.Column("processed_at", Utc(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["entry_point_id"], ["entry_points.id"],
                                name="fk_email_inbound_entry_point_id_entry_points"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name="fk_email_inbound_contact_id_contacts"),
        sa.PrimaryKeyConstraint("id", name="pk_email_inbound"),
        sa.UniqueConstraint("entry_point_id", "source_ref", name="uq_email_inbound_source_ref"),
    )
    op.create_index("ix_email_inbound_status", "email_inbound", ["status"])

    op.create_table(
        "email_messages",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("message_row_id", BigId, nullable=True),
        sa.Column("entry_point_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("message_id", sa.String(998), nullable=True),
        sa.Column("dedupe_key", sa.String(998), nullable=False),
        sa.Column("in_reply_to", sa.Text(), nullable=True),
        sa.Column("references", sa.JSON(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("from_addr", sa.String(320), nullable=False),
        sa.Column("from_name", sa.String(300), nullable=True),
        sa.Column("to_addrs", sa.JSON(), nullable=False),
        sa.Column("cc_addrs", sa.JSON(), nullable=False),
        sa.Column("bcc_addrs", sa.JSON(), nullable=False),
        sa.Column("reply_to", sa.String(320), nullable=True),
        sa.Column("sent_date", Utc(timezone=True), nullable=True),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=True),
        sa.Column("charset", sa.String(40), nullable=True),
        sa.Column("auto_kind", sa.String(16), nullable=True),
        sa.Column("defects", sa.JSON(), nullable=False),
        sa.Column("parse_error", sa.Text(), nullable=True),
        sa.Column("inbound_id", BigId, nullable=True),
        sa.Column("author_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", Utc(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name="fk_email_messages_contact_id_contacts"),
        sa.ForeignKeyConstraint(["message_row_id"], ["messages.id"],
                                name="fk_email_messages_message_row_id_messages"),
        sa.ForeignKeyConstraint(["entry_point_id"], ["entry_points.id"],
                                name="fk_email_messages_entry_point_id_entry_points"),
        sa.ForeignKeyConstraint(["inbound_id"], ["email_inbound.id"],
                                name="fk_email_messages_inbound_id_email_inbound"),
        sa.ForeignKeyConstraint(["author_user_id"], ["users.id"], name="fk_email_messages_author_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_email_messages"),
        sa.UniqueConstraint("entry_point_id", "dedupe_key", name="uq_email_messages_dedupe"),
    )
    op.create_index("ix_email_messages_contact_id", "email_messages", ["contact_id"])
    op.create_index("ix_email_messages_message_id", "email_messages", ["message_id"])
    op.create_index("ix_email_messages_sender_time", "email_messages", ["from_addr", "created_at"])

    op.create_table(
        "email_attachments",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("email_message_id", BigId, nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content_id", sa.String(255), nullable=True),
        sa.Column("disposition", sa.String(12), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["email_message_id"], ["email_messages.id"],
                                name="fk_email_attachments_email_message_id_email_messages"),
        sa.PrimaryKeyConstraint("id", name="pk_email_attachments"),
    )
    op.create_index("ix_email_attachments_email_message_id", "email_attachments", ["email_message_id"])

    op.create_table(
        "email_threads",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("entry_point_id", sa.Integer(), nullable=False),
        sa.Column("reply_token", sa.String(40), nullable=False),
        sa.Column("first_response_due_at", Utc(timezone=True), nullable=True),
        sa.Column("first_responded_at", Utc(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name="fk_email_threads_contact_id_contacts"),
        sa.ForeignKeyConstraint(["entry_point_id"], ["entry_points.id"],
                                name="fk_email_threads_entry_point_id_entry_points"),
        sa.PrimaryKeyConstraint("contact_id", name="pk_email_threads"),
        sa.UniqueConstraint("reply_token", name="uq_email_threads_reply_token"),
    )

    op.create_table(
        "email_outbox",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("email_message_id", BigId, nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", Utc(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("mail_from", sa.String(320), nullable=False),
        sa.Column("rcpt_to", sa.JSON(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", Utc(timezone=True), nullable=False),
        sa.Column("sent_at", Utc(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["email_message_id"], ["email_messages.id"],
                                name="fk_email_outbox_email_message_id_email_messages"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name="fk_email_outbox_contact_id_contacts"),
        sa.PrimaryKeyConstraint("id", name="pk_email_outbox"),
    )
    op.create_index("ix_email_outbox_due", "email_outbox", ["status", "next_attempt_at"])

    op.create_table(
        "email_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("subject", sa.String(300), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", Utc(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_email_templates"),
        sa.UniqueConstraint("name", "language", name="uq_email_templates_name_language"),
    )

    op.create_table(
        "email_mailboxes",
        sa.Column("entry_point_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("security", sa.String(10), nullable=False),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("password", sa.String(500), nullable=False),
        sa.Column("folder", sa.String(255), nullable=False),
        sa.Column("processed_folder", sa.String(255), nullable=True),
        sa.Column("uidvalidity", BigId, nullable=True),
        sa.Column("last_uid", BigId, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_polled_at", Utc(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["entry_point_id"], ["entry_points.id"],
                                name="fk_email_mailboxes_entry_point_id_entry_points"),
        sa.PrimaryKeyConstraint("entry_point_id", name="pk_email_mailboxes"),
    )

    op.create_table(
        "email_queue_sla",
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("first_response_s", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["queue_id"], ["queues.id"], name="fk_email_queue_sla_queue_id_queues",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("queue_id", name="pk_email_queue_sla"),
    )


def downgrade() -> None:
    op.drop_table("email_queue_sla")
    op.drop_table("email_mailboxes")
    op.drop_table("email_templates")
    op.drop_index("ix_email_outbox_due", table_name="email_outbox")
    op.drop_table("email_outbox")
    op.drop_table("email_threads")
    op.drop_index("ix_email_attachments_email_message_id", table_name="email_attachments")
    op.drop_table("email_attachments")
    for index in ("ix_email_messages_sender_time", "ix_email_messages_message_id", "ix_email_messages_contact_id"):
        op.drop_index(index, table_name="email_messages")
    op.drop_table("email_messages")
    op.drop_index("ix_email_inbound_status", table_name="email_inbound")
    op.drop_table("email_inbound")
