"""areas: the program's canonical areas, spellings staff mapped to them, and the area as a resident typed it

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("zips", sa.JSON(), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_areas")),
        sa.UniqueConstraint("code", name=op.f("uq_areas_code")),
    )
    op.create_table(
        "area_spellings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("spelling", sa.String(length=120), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"], ["areas.id"], name=op.f("fk_area_spellings_area_id_areas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_area_spellings")),
        sa.UniqueConstraint("spelling", name=op.f("uq_area_spellings_spelling")),
    )
    op.create_index(op.f("ix_area_spellings_area_id"), "area_spellings", ["area_id"], unique=False)
    with op.batch_alter_table("residents") as batch:
        batch.add_column(sa.Column("area_typed", sa.String(length=120), nullable=True))
    op.execute("UPDATE residents SET area_typed = area WHERE area IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.drop_column("area_typed")
    op.drop_index(op.f("ix_area_spellings_area_id"), table_name="area_spellings")
    op.drop_table("area_spellings")
    op.drop_table("areas")
