"""outcomes registry: patient-reported responses, one-time patient links, pseudonym key

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outcome_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("procedure", sa.String(length=60), nullable=False),
        sa.Column("timepoint", sa.String(length=20), nullable=False),
        sa.Column("days_from_baseline", sa.Integer(), nullable=True),
        sa.Column("instruments_json", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(
        op.f("ix_outcome_links_patient_id"), "outcome_links", ["patient_id"], unique=False
    )
    op.create_table(
        "outcome_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("procedure", sa.String(length=60), nullable=False),
        sa.Column("timepoint", sa.String(length=20), nullable=False),
        sa.Column("days_from_baseline", sa.Integer(), nullable=False),
        sa.Column("instrument", sa.String(length=40), nullable=False),
        sa.Column("answers_json", sa.Text(), nullable=False),
        sa.Column("collected_on", sa.Date(), nullable=False),
        sa.Column("entered_by", sa.String(length=10), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["link_id"], ["outcome_links.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patient_id", "procedure", "timepoint", "instrument"),
    )
    op.create_index(
        op.f("ix_outcome_responses_patient_id"), "outcome_responses", ["patient_id"], unique=False
    )
    op.create_index(
        op.f("ix_outcome_responses_procedure"), "outcome_responses", ["procedure"], unique=False
    )
    settings = op.create_table(
        "clinic_settings",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # The key of the de-identified export's pseudonyms (HMAC-SHA256), made once per database:
    # the same patient keeps the same pseudonym across this clinic's exports, and an export
    # cannot be traced back without the database.
    op.bulk_insert(settings, [{"name": "pseudonym_key", "value": secrets.token_hex(32)}])


def downgrade() -> None:
    op.drop_table("clinic_settings")
    op.drop_index(op.f("ix_outcome_responses_procedure"), table_name="outcome_responses")
    op.drop_index(op.f("ix_outcome_responses_patient_id"), table_name="outcome_responses")
    op.drop_table("outcome_responses")
    op.drop_index(op.f("ix_outcome_links_patient_id"), table_name="outcome_links")
    op.drop_table("outcome_links")
