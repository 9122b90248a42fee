"""records no client can bend (issue 10, items 1-4 and 6)

Refills name the refill they follow and when the server recorded them, and carry the reason and
co-signature that saving over an INVESTIGATE needs; a wrong refill is voided by a correction row
(``refill_voids``); a program version keeps the review context it was signed under; API writes
keep their first answer per Idempotency-Key. Existing refills are chained to the refill before
them (by time, then id) so their ``follows_refill_id`` says what they reconciled against.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy of the tables): SQLite cannot drop a table that other
    # rows refer to while foreign keys are on, and a clinic's tables have rows.
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column that refers to a table only in the column's own definition.
        op.execute(
            "ALTER TABLE refills ADD COLUMN follows_refill_id INTEGER REFERENCES refills(id)"
        )
    else:
        op.add_column("refills", sa.Column("follows_refill_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_refills_follows_refill_id", "refills", "refills", ["follows_refill_id"], ["id"]
        )
    op.add_column("refills", sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("refills", sa.Column("investigate_reason", sa.Text(), nullable=True))
    op.add_column("refills", sa.Column("cosigned_by", sa.String(length=64), nullable=True))
    op.add_column("refills", sa.Column("cosigned_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE refills SET follows_refill_id = (SELECT r2.id FROM refills r2 "
        "WHERE r2.patient_id = refills.patient_id AND (r2.performed_at < refills.performed_at "
        "OR (r2.performed_at = refills.performed_at AND r2.id < refills.id)) "
        "ORDER BY r2.performed_at DESC, r2.id DESC LIMIT 1)"
    )
    op.add_column(
        "program_versions",
        sa.Column("review_context_json", sa.Text(), nullable=False, server_default="{}"),
    )
    op.create_table(
        "refill_voids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("refill_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("voided_by", sa.String(length=64), nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.ForeignKeyConstraint(["refill_id"], ["refills.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("refill_id"),
    )
    op.create_index(op.f("ix_refill_voids_patient_id"), "refill_voids", ["patient_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("actor", "route", "key"),
    )
    op.create_index("ix_audit_entries_action_at", "audit_entries", ["action", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_entries_action_at", table_name="audit_entries")
    op.drop_table("idempotency_keys")
    op.drop_index(op.f("ix_refill_voids_patient_id"), table_name="refill_voids")
    op.drop_table("refill_voids")
    op.drop_column("program_versions", "review_context_json")
    for column in ("cosigned_at", "cosigned_by", "investigate_reason", "recorded_at"):
        op.drop_column("refills", column)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops a column that is a foreign key only by copying the table; nothing else
        # refers to refills once refill_voids is gone.
        with op.batch_alter_table("refills") as batch:
            batch.drop_column("follows_refill_id")
    else:
        op.drop_constraint("fk_refills_follows_refill_id", "refills", type_="foreignkey")
        op.drop_column("refills", "follows_refill_id")
