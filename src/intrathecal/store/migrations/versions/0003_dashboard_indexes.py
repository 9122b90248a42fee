"""indexes for the dashboard of a large clinic

The replacement list asks, for each implant, whether a newer implant replaces it: without an
index on ``replaces_implant_id`` that is a scan of every implant per implant (3 s to count
10,000). The worklists filter implanted patients by a date: with the stage alone indexed the
database reads every implanted patient and sorts them; (stage, date) reads only the rows shown.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_implants_replaces_implant_id", "implants", ["replaces_implant_id"])
    op.create_index(
        "ix_patients_stage_next_refill_due_at", "patients", ["stage", "next_refill_due_at"]
    )
    op.create_index("ix_patients_stage_low_alarm_at", "patients", ["stage", "low_alarm_at"])


def downgrade() -> None:
    op.drop_index("ix_patients_stage_low_alarm_at", table_name="patients")
    op.drop_index("ix_patients_stage_next_refill_due_at", table_name="patients")
    op.drop_index("ix_implants_replaces_implant_id", table_name="implants")
