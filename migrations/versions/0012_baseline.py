"""baseline_counts: the population by dimension and group (overall or per area), from a named source

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "baseline_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(length=40), nullable=False),
        sa.Column("group_name", sa.String(length=120), nullable=False),
        sa.Column("area", sa.String(length=64), nullable=True),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_baseline_counts")),
    )


def downgrade() -> None:
    op.drop_table("baseline_counts")
