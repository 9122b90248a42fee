"""patient search: names through an index that finds any part of a name (issue 11, item 10)

``ilike '%q%'`` over 50,000 names read every row, twice (rows and count). On SQLite an FTS5
table with the trigram tokenizer (external content: the names stay in ``patients``; triggers
keep it in step) answers the same substring question from its index; on PostgreSQL a GIN
trigram index (pg_trgm) serves ``ilike`` itself. Exact MRNs already have their unique index.

Revision ID: 0011
Revises: 0013
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE patients_fts USING fts5("
    "name, content='patients', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER patients_fts_insert AFTER INSERT ON patients BEGIN "
    "INSERT INTO patients_fts(rowid, name) VALUES (new.id, new.name); END",
    "CREATE TRIGGER patients_fts_delete AFTER DELETE ON patients BEGIN "
    "INSERT INTO patients_fts(patients_fts, rowid, name) VALUES ('delete', old.id, old.name); END",
    "CREATE TRIGGER patients_fts_update AFTER UPDATE OF name ON patients BEGIN "
    "INSERT INTO patients_fts(patients_fts, rowid, name) VALUES ('delete', old.id, old.name); "
    "INSERT INTO patients_fts(rowid, name) VALUES (new.id, new.name); END",
    "INSERT INTO patients_fts(patients_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER patients_fts_update",
    "DROP TRIGGER patients_fts_delete",
    "DROP TRIGGER patients_fts_insert",
    "DROP TABLE patients_fts",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_patients_name_trgm ON patients USING gin (name gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
    else:
        op.execute("DROP INDEX ix_patients_name_trgm")
