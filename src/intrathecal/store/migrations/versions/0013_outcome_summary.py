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

revision = "0013"
down_revision = "0012"
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
    _backfill()


def _backfill() -> None:
    """Summary rows of every stored answer, by the registry's own scoring. Plain SQL, not the
    ORM models: later migrations may change the models, never this revision's tables."""
    import json
    from datetime import date

    from intrathecal.outcomes import Response, validate_responses
    from intrathecal.outcomes.summary import summary_rows

    connection = op.get_bind()
    groups: dict[tuple[int, str], list[Response]] = {}
    for row in connection.execute(
        sa.text(
            "SELECT patient_id, procedure, timepoint, days_from_baseline, instrument, "
            "answers_json, collected_on, entered_by FROM outcome_responses ORDER BY id"
        )
    ):
        day = row.collected_on
        if isinstance(day, str):  # SQLite hands dates back as text
            day = date.fromisoformat(day[:10])
        groups.setdefault((row.patient_id, row.procedure), []).append(
            Response(
                subject=f"patient-{row.patient_id}",
                procedure=row.procedure,
                timepoint=row.timepoint,
                days_from_baseline=row.days_from_baseline,
                instrument=row.instrument,
                answers=json.loads(row.answers_json),
                collected_on=day,
                entered_by=row.entered_by,
            )
        )
    table = sa.table(
        "outcome_summary",
        *(
            sa.column(name)
            for name in (
                "patient_id",
                "procedure",
                "timepoint",
                "nominal_days",
                "collected_on",
                "baseline_on",
                "baseline_mask",
                "first",
                "answered_mask",
                "success_mask",
                "effects_answered",
                "effects_mask",
                "review",
            )
        ),
    )
    rows = [
        {
            "patient_id": patient_id,
            "procedure": procedure,
            "timepoint": r.timepoint,
            "nominal_days": r.nominal_days,
            "collected_on": r.collected_on,
            "baseline_on": r.baseline_on,
            "baseline_mask": r.baseline_mask,
            "first": r.first,
            "answered_mask": r.answered_mask,
            "success_mask": r.success_mask,
            "effects_answered": r.effects_answered,
            "effects_mask": r.effects_mask,
            "review": r.review,
        }
        for (patient_id, procedure), responses in groups.items()
        for r in summary_rows(validate_responses(responses))
    ]
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_index("ix_outcome_summary_lookup", table_name="outcome_summary")
    op.drop_index("ix_outcome_summary_orphans", table_name="outcome_summary")
    op.drop_index(op.f("ix_outcome_summary_patient_id"), table_name="outcome_summary")
    op.drop_table("outcome_summary")
