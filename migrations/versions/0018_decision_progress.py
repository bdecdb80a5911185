"""Decisions that keep going: a published decision's stage (in progress, implemented, changed), its timeline, and
contributors' answers to "Did this happen?" after it was implemented

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("stage", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("implemented_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("checked_back_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE decisions SET stage = 'published' WHERE status = 'published'")
    op.create_table(
        "decision_stage_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("why", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name=op.f("fk_decision_stage_changes_decision_id_decisions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_stage_changes")),
    )
    op.create_index(op.f("ix_decision_stage_changes_decision_id"), "decision_stage_changes", ["decision_id"])
    op.create_table(
        "decision_check_backs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("answer", sa.String(length=8), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name=op.f("fk_decision_check_backs_decision_id_decisions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_decision_check_backs_resident_id_residents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_check_backs")),
        sa.UniqueConstraint("decision_id", "resident_id", name="uq_decision_check_backs_decision_resident"),
    )
    op.create_index(op.f("ix_decision_check_backs_decision_id"), "decision_check_backs", ["decision_id"])
    op.create_index(op.f("ix_decision_check_backs_resident_id"), "decision_check_backs", ["resident_id"])


def downgrade() -> None:
    op.drop_table("decision_check_backs")
    op.drop_table("decision_stage_changes")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("checked_back_at")
        batch.drop_column("implemented_at")
        batch.drop_column("stage")
