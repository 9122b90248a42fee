"""audit chain keyed and guarded

The audit head gets ``mac`` (HMAC of seq, last hash and ``legacy_seq`` with the audit key, which
lives outside the database) and ``legacy_seq``. An existing chain, hashed with unkeyed SHA-256,
is kept as it is: its length becomes ``legacy_seq`` and its last hash is sealed into the head
with the key, so the keyed chain continues from it and a rewrite of the old part is found.
The database then refuses UPDATE and DELETE on ``audit_entries`` (and TRUNCATE on PostgreSQL),
and lets the head's seq only move forward (triggers; SQLite: RAISE(ABORT)).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ENTRIES_REFUSED = "audit entries are append-only"
HEAD_REFUSED = "the audit head only moves forward"

SQLITE_UP = [
    f"""CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
    BEGIN SELECT RAISE(ABORT, '{ENTRIES_REFUSED}'); END""",
    f"""CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
    BEGIN SELECT RAISE(ABORT, '{ENTRIES_REFUSED}'); END""",
    f"""CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head
    WHEN NEW.id <> OLD.id OR NEW.seq < OLD.seq OR NEW.legacy_seq <> OLD.legacy_seq
      OR (NEW.seq = OLD.seq AND (NEW.hash <> OLD.hash OR NEW.mac IS NOT OLD.mac))
    BEGIN SELECT RAISE(ABORT, '{HEAD_REFUSED}'); END""",
    f"""CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
    BEGIN SELECT RAISE(ABORT, '{HEAD_REFUSED}'); END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS audit_entries_no_update",
    "DROP TRIGGER IF EXISTS audit_entries_no_delete",
    "DROP TRIGGER IF EXISTS audit_head_forward",
    "DROP TRIGGER IF EXISTS audit_head_no_delete",
]
POSTGRES_UP = [
    f"""CREATE FUNCTION itp_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '{ENTRIES_REFUSED} (% refused)', TG_OP; END $$""",
    """CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION itp_audit_append_only()""",
    """CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION itp_audit_append_only()""",
    f"""CREATE FUNCTION itp_audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'UPDATE' OR NEW.id <> OLD.id OR NEW.seq < OLD.seq
         OR NEW.legacy_seq <> OLD.legacy_seq
         OR (NEW.seq = OLD.seq AND (NEW.hash <> OLD.hash OR NEW.mac IS DISTINCT FROM OLD.mac))
      THEN RAISE EXCEPTION '{HEAD_REFUSED} (% refused)', TG_OP; END IF;
      RETURN NEW;
    END $$""",
    """CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION itp_audit_head_forward()""",
    """CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION itp_audit_head_forward()""",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_head",
    "DROP TRIGGER IF EXISTS audit_head_forward ON audit_head",
    "DROP FUNCTION IF EXISTS itp_audit_head_forward()",
    "DROP TRIGGER IF EXISTS audit_entries_no_truncate ON audit_entries",
    "DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries",
    "DROP FUNCTION IF EXISTS itp_audit_append_only()",
]


def _key() -> bytes:
    """The audit key handed over by ``store.db.migrate``, else the one of the environment."""
    key = context.config.attributes.get("audit_key")
    if isinstance(key, bytes):
        return key
    from intrathecal.store import audit_key

    found = audit_key.load(context.config.get_main_option("sqlalchemy.url") or "", create=False)
    if found is None:
        raise RuntimeError(
            "migration 0006 seals the existing audit chain with the audit key: set "
            f"{audit_key.ENV_KEY} or {audit_key.ENV_FILE}, or run `itp clinic migrate`"
        )
    return found.secret


def upgrade() -> None:
    from intrathecal.store.audit import head_mac

    op.add_column(
        "audit_head", sa.Column("legacy_seq", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("audit_head", sa.Column("mac", sa.String(64), nullable=True))
    bind = op.get_bind()
    head = bind.execute(sa.text("SELECT seq, hash FROM audit_head WHERE id = 1")).first()
    if head is not None:
        seq, last_hash = int(head[0]), str(head[1])
        bind.execute(
            sa.text("UPDATE audit_head SET legacy_seq = :seq, mac = :mac WHERE id = 1"),
            {"seq": seq, "mac": head_mac(_key(), seq, last_hash, seq)},
        )
    for statement in POSTGRES_UP if bind.dialect.name == "postgresql" else SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    for statement in POSTGRES_DOWN if bind.dialect.name == "postgresql" else SQLITE_DOWN:
        op.execute(statement)
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("mac")
        batch.drop_column("legacy_seq")
