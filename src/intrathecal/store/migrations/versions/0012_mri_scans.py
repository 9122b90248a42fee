"""mri scans: a planned MRI of a pump patient and its post-scan confirmation (issue 12, item 11)

``mri_scans`` keeps the inputs of the plan (the plan itself is computed from them and the
program in force); ``mri_confirmations`` records that the pump was found delivering after the
scan, which ends the dashboard's post-MRI task. Both append-only.

Revision ID: 0012
Revises: 0008
Create Date: 2026-11-30
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
        "mri_scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("scan_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scan_minutes", sa.Integer(), nullable=False),
        sa.Column("field_t", sa.Float(), nullable=False),
        sa.Column("empty_hours_before", sa.Float(), nullable=True),
        sa.Column("restart_hours_after", sa.Float(), nullable=True),
        sa.Column("planned_by", sa.String(length=64), nullable=False),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_mri_scans_patient_id"), "mri_scans", ["patient_id"])
    op.create_index(op.f("ix_mri_scans_scan_at"), "mri_scans", ["scan_at"])
    op.create_table(
        "mri_confirmations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("confirmed_by", sa.String(length=64), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["scan_id"], ["mri_scans.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scan_id"),
    )
    op.create_index(op.f("ix_mri_confirmations_patient_id"), "mri_confirmations", ["patient_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_mri_confirmations_patient_id"), table_name="mri_confirmations")
    op.drop_table("mri_confirmations")
    op.drop_index(op.f("ix_mri_scans_scan_at"), table_name="mri_scans")
    op.drop_index(op.f("ix_mri_scans_patient_id"), table_name="mri_scans")
    op.drop_table("mri_scans")
