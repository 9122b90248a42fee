"""outcome summary: the statistics' counts kept beside the answers (issue 13, item 12)

One row per patient, procedure and time point (follow-ups per date) with bit masks per share;
the clinic's statistics are SQL sums over it instead of a rebuild from every answer. Filled
here from the stored answers; kept up to date by every stored visit.

Revision ID: 0013
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "0013"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outcome_summary",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("procedure", sa.String(length=60), nullable=False),
        sa.Column("timepoint", sa.String(length=20), nullable=False),
        sa.Column("nominal_days", sa.Integer(), nullable=False),
        sa.Column("collected_on", sa.Date(), nullable=False),
        sa.Column("baseline_on", sa.Date(), nullable=True),
        sa.Column("baseline_mask", sa.Integer(), nullable=False),
        sa.Column("first", sa.Integer(), nullable=False),
        sa.Column("answered_mask", sa.Integer(), nullable=False),
        sa.Column("success_mask", sa.Integer(), nullable=False),
        sa.Column("effects_answered", sa.Integer(), nullable=False),
        sa.Column("effects_mask", sa.Integer(), nullable=False),
        sa.Column("review", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_outcome_summary_patient_id"), "outcome_summary", ["patient_id"])
    # Follow-ups without a baseline (rare) are found without reading every row.
    op.create_index("ix_outcome_summary_orphans", "outcome_summary", ["baseline_on", "procedure"])
    op.create_index(
        "ix_outcome_summary_lookup", "outcome_summary", ["procedure", "timepoint", "collected_on"]
    )
    # Backfill from the stored answers with the registry's own scoring.
    from intrathecal.store.outcomes_stats import rebuild

    session = Session(bind=op.get_bind())
    rebuild(session)
    session.flush()


def downgrade() -> None:
    op.drop_index("ix_outcome_summary_lookup", table_name="outcome_summary")
    op.drop_index("ix_outcome_summary_orphans", table_name="outcome_summary")
    op.drop_index(op.f("ix_outcome_summary_patient_id"), table_name="outcome_summary")
    op.drop_table("outcome_summary")
