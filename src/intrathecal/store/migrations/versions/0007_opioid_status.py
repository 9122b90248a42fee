"""the patient's opioid status, and when an appointment was booked

The opioid status selects a drug's starting range in the program review.

Issue 9: a first program (or a drug new to an admixture) is checked against the library's
starting range, opioid-naive or opioid-tolerant where the library has both. The status is a
record of the patient (NULL: not stated, the stricter naive range applies), never a field sent
with the program. An appointment's booked_at (server clock) lets the review count a refill
appointment as the next refill only when it was booked after the last fill: a stale booking (the
visit that already happened) must not bring the refill forward and hide EMPTIES_BEFORE_REFILL.
Older appointments get NULL and do not count (the due date, the stricter reading, does).

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


# Plain ALTER TABLE on both databases: a batch copy of "patients" on SQLite would drop a table
# that every record refers to (the foreign keys refuse it).
def upgrade() -> None:
    op.add_column("patients", sa.Column("opioid_status", sa.String(10), nullable=True))
    op.add_column("appointments", sa.Column("booked_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE appointments DROP COLUMN booked_at")
    op.execute("ALTER TABLE patients DROP COLUMN opioid_status")
