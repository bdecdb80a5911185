"""Co-decided decisions: decisions.co_decided and the co-owning partners' sign-offs

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("co_decided", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("decisions") as batch:
        batch.alter_column("co_decided", server_default=None)
    op.create_table(
        "decision_sign_offs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name=op.f("fk_decision_sign_offs_decision_id_decisions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_decision_sign_offs_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_sign_offs")),
        sa.UniqueConstraint("decision_id", "organization_id", name="uq_decision_sign_offs_decision_organization"),
    )
    op.create_index(op.f("ix_decision_sign_offs_decision_id"), "decision_sign_offs", ["decision_id"])


def downgrade() -> None:
    op.drop_table("decision_sign_offs")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("co_decided")
