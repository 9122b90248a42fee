"""pump journal: intents to change a pump, written before anything is sent

A refill or program sent to a pump is journalled in its own committed transaction first, so a
crash between the pump and the clinic record can be reconciled with the pump's event log.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pump_journal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("payload_json", sa.Text(), nullable=False),
        sa.Column("since_seq", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("by_recovery", sa.Boolean(), nullable=False),
        sa.Column("refill_id", sa.Integer(), nullable=True),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.ForeignKeyConstraint(["refill_id"], ["refills.id"]),
        sa.ForeignKeyConstraint(["application_id"], ["program_applications.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token"),
    )
    op.create_index("ix_pump_journal_patient_id", "pump_journal", ["patient_id"])
    op.create_index("ix_pump_journal_serial_status", "pump_journal", ["serial", "status"])


def downgrade() -> None:
    op.drop_index("ix_pump_journal_serial_status", table_name="pump_journal")
    op.drop_index("ix_pump_journal_patient_id", table_name="pump_journal")
    op.drop_table("pump_journal")
