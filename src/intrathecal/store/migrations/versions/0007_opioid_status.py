"""the patient's opioid status, which selects a drug's starting range in the program review

Issue 9: a first program (or a drug new to an admixture) is checked against the library's
starting range, opioid-naive or opioid-tolerant where the library has both. The status is a
record of the patient (NULL: not stated, the stricter naive range applies), never a field sent
with the program.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("opioid_status", sa.String(10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("opioid_status")
