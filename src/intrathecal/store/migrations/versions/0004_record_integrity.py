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
    with op.batch_alter_table("refills") as batch:
        batch.add_column(sa.Column("follows_refill_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("investigate_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("cosigned_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("cosigned_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key(
            "fk_refills_follows_refill_id", "refills", ["follows_refill_id"], ["id"]
        )
    op.execute(
        "UPDATE refills SET follows_refill_id = (SELECT r2.id FROM refills r2 "
        "WHERE r2.patient_id = refills.patient_id AND (r2.performed_at < refills.performed_at "
        "OR (r2.performed_at = refills.performed_at AND r2.id < refills.id)) "
        "ORDER BY r2.performed_at DESC, r2.id DESC LIMIT 1)"
    )
    with op.batch_alter_table("program_versions") as batch:
        batch.add_column(
            sa.Column("review_context_json", sa.Text(), nullable=False, server_default="{}")
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


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_index(op.f("ix_refill_voids_patient_id"), table_name="refill_voids")
    op.drop_table("refill_voids")
    with op.batch_alter_table("program_versions") as batch:
        batch.drop_column("review_context_json")
    with op.batch_alter_table("refills") as batch:
        batch.drop_constraint("fk_refills_follows_refill_id", type_="foreignkey")
        batch.drop_column("cosigned_at")
        batch.drop_column("cosigned_by")
        batch.drop_column("investigate_reason")
        batch.drop_column("recorded_at")
        batch.drop_column("follows_refill_id")
