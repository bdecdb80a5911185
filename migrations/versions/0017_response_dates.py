"""input_items.respond_by (a committed response date) and responded_at (when it first reached an outcome), the
latter filled from the items' status history

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("input_items") as batch:
        batch.add_column(sa.Column("respond_by", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(op.f("ix_input_items_responded_at"), ["responded_at"])
    op.execute(
        "UPDATE input_items SET responded_at = (SELECT min(c.at) FROM input_status_changes c "
        "WHERE c.item_id = input_items.id AND c.to_status IN ('acted_on', 'not_adopted'))"
    )


def downgrade() -> None:
    with op.batch_alter_table("input_items") as batch:
        batch.drop_index(op.f("ix_input_items_responded_at"))
        batch.drop_column("responded_at")
        batch.drop_column("respond_by")
