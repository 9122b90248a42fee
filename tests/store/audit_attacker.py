"""An attacker with full write access to the database (DDL included) but not the audit key: the
triggers that guard the audit tables and the clinical records are dropped first, as such an
attacker would."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from intrathecal.store import audit

# Every trigger that refuses a write: the audit log's (0006) and the clinical records' (0015).
GUARDS = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%RAISE(ABORT%'",
    "postgresql": "SELECT tgname, tgrelid::regclass::text FROM pg_trigger t "
    "JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT tgisinternal AND p.proname LIKE 'itp\\_%'",
}


def drop_guards(session: Session) -> None:
    dialect = session.get_bind().dialect.name
    found = session.execute(text(GUARDS[dialect])).all()
    for row in found:
        on = f" ON {row[1]}" if dialect == "postgresql" else ""
        session.execute(text(f"DROP TRIGGER IF EXISTS {row[0]}{on}"))


def tamper(session: Session, *statements: str) -> None:
    drop_guards(session)
    for statement in statements:
        session.execute(text(statement))


def rehash_unkeyed(session: Session, start: int) -> None:
    """Edit-then-recompute as before the key: every entry from ``start`` gets a fresh SHA-256
    link and the head follows (what fooled the unkeyed chain)."""
    rows = session.execute(
        text(
            "SELECT seq, at, actor, action, target, detail_json, prev_hash FROM audit_entries "
            "WHERE seq >= :s ORDER BY seq"
        ),
        {"s": start},
    ).all()
    prev = rows[0].prev_hash
    for row in rows:
        at = audit._instant(row.at)
        link = audit.chain_hash(
            prev, audit.canonical(row.seq, at, row.actor, row.action, row.target, row.detail_json)
        )
        session.execute(
            text("UPDATE audit_entries SET prev_hash = :p, hash = :h WHERE seq = :s"),
            {"p": prev, "h": link, "s": row.seq},
        )
        prev = link
    session.execute(
        text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": rows[-1].seq, "h": prev}
    )
