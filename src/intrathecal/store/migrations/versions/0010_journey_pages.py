"""journey pages: spasticity trial response, alarm acknowledgements and clearances as records

A baclofen trial is measured in spasticity (Modified Ashworth grade, Penn spasm frequency),
not pain: the pain scores become optional and the spasticity pair is added (issue 11, item 6).
A prior treatment is oral medication (with its dose) or another method.
Acknowledging or clearing an alarm writes an ``alarm_events`` row (who, when, note): the
alarm's history is kept, never overwritten (issue 11, item 5).

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.alter_column("pain_before", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("pain_after", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("ashworth_before", sa.String(length=2), nullable=True))
        batch.add_column(sa.Column("ashworth_after", sa.String(length=2), nullable=True))
        batch.add_column(sa.Column("spasms_before", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("spasms_after", sa.Integer(), nullable=True))
    with op.batch_alter_table("prior_treatments") as batch:
        batch.add_column(
            sa.Column(
                "kind", sa.String(length=20), nullable=False, server_default="oral medication"
            )
        )
    op.create_table(
        "alarm_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["alarm_id"], ["alarms.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_alarm_events_alarm_id"), "alarm_events", ["alarm_id"])
    op.create_index(op.f("ix_alarm_events_patient_id"), "alarm_events", ["patient_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_alarm_events_patient_id"), table_name="alarm_events")
    op.drop_index(op.f("ix_alarm_events_alarm_id"), table_name="alarm_events")
    op.drop_table("alarm_events")
    with op.batch_alter_table("prior_treatments") as batch:
        batch.drop_column("kind")
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("spasms_after")
        batch.drop_column("spasms_before")
        batch.drop_column("ashworth_after")
        batch.drop_column("ashworth_before")
        batch.alter_column("pain_after", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("pain_before", existing_type=sa.Integer(), nullable=False)
