"""Messages: one index by contact, not two.

The unique ``(contact_id, client_msg_id)`` index already serves every lookup by ``contact_id``
(its leading column), so ``ix_messages_contact_id`` only cost writes: each chat message put an
entry into both, and at full chat load the messages of hundreds of conversations land on as many
leaf pages of each (docs/realtime.md, "What bounds the saturated rate").

Revision ID: 0010_messages_one_contact_index
Revises: 0009_voice_prompts
"""

from __future__ import annotations

from alembic import op

revision = "0010_messages_one_contact_index"
down_revision = "0009_voice_prompts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_messages_contact_id", table_name="messages")


def downgrade() -> None:
    op.create_index("ix_messages_contact_id", "messages", ["contact_id"])
