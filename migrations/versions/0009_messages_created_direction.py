"""messages: index (created_at, direction) for the overview's count of today's messages

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_created_direction", "messages", ["created_at", "direction"])


def downgrade() -> None:
    op.drop_index("ix_messages_created_direction", table_name="messages")
