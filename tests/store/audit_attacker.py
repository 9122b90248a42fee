"""An attacker with full write access to the database (DDL included) but not the audit key: the
triggers that guard the audit tables are dropped first, as such an attacker would."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from intrathecal.store import audit

DROP = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS audit_entries_no_update",
        "DROP TRIGGER IF EXISTS audit_entries_no_delete",
        "DROP TRIGGER IF EXISTS audit_head_forward",
        "DROP TRIGGER IF EXISTS audit_head_no_delete",
    ],
    "postgresql": [
        "DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries",
        "DROP TRIGGER IF EXISTS audit_entries_no_truncate ON audit_entries",
        "DROP TRIGGER IF EXISTS audit_head_forward ON audit_head",
        "DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_head",
    ],
}


def drop_guards(session: Session) -> None:
    for statement in DROP[session.get_bind().dialect.name]:
        session.execute(text(statement))


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
