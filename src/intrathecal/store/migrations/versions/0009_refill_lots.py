"""refill lots: each drug's lot and expiry and who compounded, for the printable refill record
(issue 11, item 4)

A chart audit asks of every refill which lot of each drug went in, when it expires and who
compounded it. ``drug_lots_json`` holds ``[{"drug", "lot", "expiry"}]`` (expiry as YYYY-MM-DD);
``compounded_by`` the full name of who compounded. Refills recorded before have none ("[]" and
NULL): the record says so rather than inventing them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "refills",
        sa.Column("drug_lots_json", sa.Text(), nullable=False, server_default="[]"),
    )
    op.add_column("refills", sa.Column("compounded_by", sa.String(length=120), nullable=True))


def downgrade() -> None:
    # Neither is a key: SQLite drops them in place (no copy of a table others refer to).
    op.drop_column("refills", "compounded_by")
    op.drop_column("refills", "drug_lots_json")
