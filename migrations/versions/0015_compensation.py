"""Compensation: offers on polls and events, event check-ins (and each event's check-in code), the ledger

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _when(name: str, *, nullable: bool = False) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("checkin_code", sa.String(length=8), nullable=True))
        batch.create_unique_constraint(op.f("uq_events_checkin_code"), ["checkin_code"])
    op.create_table(
        "compensation_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name=op.f("fk_compensation_offers_poll_id_polls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_compensation_offers_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compensation_offers")),
        sa.UniqueConstraint("poll_id", name=op.f("uq_compensation_offers_poll_id")),
        sa.UniqueConstraint("event_id", name=op.f("uq_compensation_offers_event_id")),
    )
    op.create_table(
        "event_check_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=254), nullable=True),
        _when("at"),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_event_check_ins_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_event_check_ins_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_check_ins")),
        sa.UniqueConstraint("event_id", "resident_id", name="uq_event_check_ins_event_resident"),
    )
    op.create_index(op.f("ix_event_check_ins_event_id"), "event_check_ins", ["event_id"])
    op.create_index(op.f("ix_event_check_ins_resident_id"), "event_check_ins", ["resident_id"])
    op.create_table(
        "compensation_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("payout", sa.String(length=64), nullable=True),
        sa.Column("payout_handle", sa.String(length=120), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("area", sa.String(length=120), nullable=True),
        _when("asked_at", nullable=True),
        _when("created_at"),
        _when("paid_at", nullable=True),
        sa.Column("paid_by", sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["compensation_offers.id"],
            name=op.f("fk_compensation_entries_offer_id_compensation_offers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_compensation_entries_resident_id_residents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compensation_entries")),
        sa.UniqueConstraint("offer_id", "resident_id", name="uq_compensation_entries_offer_resident"),
    )
    op.create_index(op.f("ix_compensation_entries_offer_id"), "compensation_entries", ["offer_id"])
    op.create_index(op.f("ix_compensation_entries_resident_id"), "compensation_entries", ["resident_id"])


def downgrade() -> None:
    op.drop_table("compensation_entries")
    op.drop_table("event_check_ins")
    op.drop_table("compensation_offers")
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint(op.f("uq_events_checkin_code"), type_="unique")
        batch.drop_column("checkin_code")
