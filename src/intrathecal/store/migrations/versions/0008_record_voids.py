"""record voids: any clinical record corrected by a void, never edited (issue 10, item 6)

Indications, prior treatments, evaluations, trials, implants, alarms, appointments and adverse
events are append-only like refills; a wrong one is voided by a ``record_voids`` row (who, when,
why) that the current implant, the open alarms and the scheduled refill then follow. The unique
(kind, record_id) allows one void per record and indexes the "not voided" filters.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_voids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("voided_by", sa.String(length=64), nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "record_id"),
    )
    op.create_index(op.f("ix_record_voids_patient_id"), "record_voids", ["patient_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_record_voids_patient_id"), table_name="record_voids")
    op.drop_table("record_voids")
