"""about_me_consents and about_me_answers: what residents say about themselves, with its own consent, stored apart

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "about_me_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_about_me_consents_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_about_me_consents")),
    )
    op.create_index(op.f("ix_about_me_consents_resident_id"), "about_me_consents", ["resident_id"])
    op.create_table(
        "about_me_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_about_me_answers_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_about_me_answers")),
        sa.UniqueConstraint("resident_id", "question", name="uq_about_me_answers_resident_question"),
    )
    op.create_index(op.f("ix_about_me_answers_resident_id"), "about_me_answers", ["resident_id"])


def downgrade() -> None:
    op.drop_table("about_me_answers")
    op.drop_table("about_me_consents")
