"""record guard: the database refuses to rewrite the clinical records, as it does the audit log

The clinical records are append-only in the code (a change is a new row naming the one it
replaces, a wrong record is voided by a correction row); from here the database refuses too,
like 0006 for the audit log: triggers refuse UPDATE and DELETE (SQLite: RAISE(ABORT); PostgreSQL:
a plpgsql function, row triggers, and a statement trigger refusing TRUNCATE), naming the table.

Wholly guarded (the application only ever inserts them): ``program_versions``,
``program_applications``, ``refills``, ``refill_voids``, ``record_voids``, ``clinic_boluses``,
``mri_scans``, ``mri_confirmations``, ``alarm_events``, ``outcome_responses`` and the journey's
``indications``, ``prior_treatments``, ``evaluations``, ``trials``, ``implants``,
``appointments``, ``adverse_events``.

Guarded but for one transition the application makes:

- ``alarms``: an open alarm is cleared once (``cleared_at``, ``cleared_by``, by a clearance or
  by a refill answering a low-reservoir alarm); nothing else of it changes, a clearance is never
  changed or undone, and no alarm is deleted.
- ``pump_journal``: an open entry (intent, sent, confirmed) moves on (``status``, ``updated_at``,
  ``outcome``, ``by_recovery``, ``refill_id``, ``application_id``); what it was created with never
  changes, a closed entry (recorded, not_done) never moves again, and no entry is deleted.

Not guarded: ``patients`` (derived status: stage, due date, predicted alarm; the opioid status
and the name are edited), ``outcome_summary`` (derived, rewritten per visit), ``outcome_links``
(used once), users, sessions and the like (not clinical records).

On SQLite a trigger belongs to its table: a later migration that copies one of these tables
(``batch_alter_table``) or drops a column named below must make its triggers again. On
PostgreSQL the two partial guards compare the whole row as JSON except the columns that may
change, so a column added later is guarded too.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

APPEND_ONLY = (
    "indications",
    "prior_treatments",
    "evaluations",
    "trials",
    "implants",
    "appointments",
    "adverse_events",
    "program_versions",
    "program_applications",
    "refills",
    "refill_voids",
    "record_voids",
    "alarm_events",
    "clinic_boluses",
    "mri_scans",
    "mri_confirmations",
    "outcome_responses",
)
# What the application moves, and the columns (as of this revision) that must stay as inserted.
ALARM_FIXED = ("id", "patient_id", "kind", "message", "source", "raised_at")
ALARM_MOVES = ("cleared_at", "cleared_by")
JOURNAL_FIXED = (
    "id",
    "token",
    "patient_id",
    "serial",
    "kind",
    "payload_json",
    "since_seq",
    "created_by",
    "created_at",
)
JOURNAL_MOVES = ("status", "updated_at", "outcome", "by_recovery", "refill_id", "application_id")
JOURNAL_OPEN = ("intent", "sent", "confirmed")

REFUSED = "{table} rows are append-only: a correction is a new row, never an UPDATE or DELETE"
ALARM_REFUSED = (
    "alarms rows are append-only: an open alarm is cleared once (cleared_at, cleared_by), "
    "nothing else changes"
)
JOURNAL_REFUSED = (
    "pump_journal rows are append-only: an open entry moves on (status, outcome), "
    "what it was created with never changes and a closed entry never moves"
)


def _changed(columns: tuple[str, ...]) -> str:
    return " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _sqlite_up() -> list[str]:
    statements = []
    for table in APPEND_ONLY:
        refused = REFUSED.format(table=table)
        statements += [
            f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
            BEGIN SELECT RAISE(ABORT, '{refused} (UPDATE refused)'); END""",
            f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
            BEGIN SELECT RAISE(ABORT, '{refused} (DELETE refused)'); END""",
        ]
    statements += [
        f"""CREATE TRIGGER alarms_cleared_once BEFORE UPDATE ON alarms
        WHEN OLD.cleared_at IS NOT NULL OR OLD.cleared_by IS NOT NULL OR {_changed(ALARM_FIXED)}
        BEGIN SELECT RAISE(ABORT, '{ALARM_REFUSED} (UPDATE refused)'); END""",
        f"""CREATE TRIGGER alarms_no_delete BEFORE DELETE ON alarms
        BEGIN SELECT RAISE(ABORT, '{ALARM_REFUSED} (DELETE refused)'); END""",
        f"""CREATE TRIGGER pump_journal_open_moves BEFORE UPDATE ON pump_journal
        WHEN OLD.status NOT IN ({_quoted(JOURNAL_OPEN)}) OR {_changed(JOURNAL_FIXED)}
        BEGIN SELECT RAISE(ABORT, '{JOURNAL_REFUSED} (UPDATE refused)'); END""",
        f"""CREATE TRIGGER pump_journal_no_delete BEFORE DELETE ON pump_journal
        BEGIN SELECT RAISE(ABORT, '{JOURNAL_REFUSED} (DELETE refused)'); END""",
    ]
    return statements


def _sqlite_down() -> list[str]:
    names = [f"{table}_no_{op}" for table in APPEND_ONLY for op in ("update", "delete")]
    names += ["alarms_cleared_once", "alarms_no_delete"]
    names += ["pump_journal_open_moves", "pump_journal_no_delete"]
    return [f"DROP TRIGGER IF EXISTS {name}" for name in names]


def _postgres_up() -> list[str]:
    refused = REFUSED.format(table="%")
    statements = [
        f"""CREATE FUNCTION itp_record_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{refused} (% refused)', TG_TABLE_NAME, TG_OP; END $$""",
        # The row as JSON without the columns that may move: any other change is refused.
        f"""CREATE FUNCTION itp_alarm_cleared_once() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF OLD.cleared_at IS NOT NULL OR OLD.cleared_by IS NOT NULL
             OR to_jsonb(NEW) - ARRAY[{_quoted(ALARM_MOVES)}]
                IS DISTINCT FROM to_jsonb(OLD) - ARRAY[{_quoted(ALARM_MOVES)}]
          THEN RAISE EXCEPTION '{ALARM_REFUSED} (% refused)', TG_OP; END IF;
          RETURN NEW;
        END $$""",
        f"""CREATE FUNCTION itp_pump_journal_open_moves() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF OLD.status NOT IN ({_quoted(JOURNAL_OPEN)})
             OR to_jsonb(NEW) - ARRAY[{_quoted(JOURNAL_MOVES)}]
                IS DISTINCT FROM to_jsonb(OLD) - ARRAY[{_quoted(JOURNAL_MOVES)}]
          THEN RAISE EXCEPTION '{JOURNAL_REFUSED} (% refused)', TG_OP; END IF;
          RETURN NEW;
        END $$""",
    ]
    for table in APPEND_ONLY:
        statements.append(
            f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION itp_record_append_only()"""
        )
    for table, function in (
        ("alarms", "itp_alarm_cleared_once"),
        ("pump_journal", "itp_pump_journal_open_moves"),
    ):
        statements += [
            f"""CREATE TRIGGER {table}_moves BEFORE UPDATE ON {table}
            FOR EACH ROW EXECUTE FUNCTION {function}()""",
            f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION itp_record_append_only()""",
        ]
    for table in (*APPEND_ONLY, "alarms", "pump_journal"):
        statements.append(
            f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION itp_record_append_only()"""
        )
    return statements


def _postgres_down() -> list[str]:
    statements = []
    for table in (*APPEND_ONLY, "alarms", "pump_journal"):
        statements.append(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    for table in ("alarms", "pump_journal"):
        statements += [
            f"DROP TRIGGER IF EXISTS {table}_moves ON {table}",
            f"DROP TRIGGER IF EXISTS {table}_no_delete ON {table}",
        ]
    for table in APPEND_ONLY:
        statements.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    statements += [
        "DROP FUNCTION IF EXISTS itp_pump_journal_open_moves()",
        "DROP FUNCTION IF EXISTS itp_alarm_cleared_once()",
        "DROP FUNCTION IF EXISTS itp_record_append_only()",
    ]
    return statements


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _postgres_up() if postgres else _sqlite_up():
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _postgres_down() if postgres else _sqlite_down():
        op.execute(statement)
