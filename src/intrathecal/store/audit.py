"""Append-only, hash-chained audit log of every chart read and every change.

Each entry's hash = SHA-256(previous entry's hash + canonical JSON of the entry), starting from
64 zeros. Changing, deleting or reordering any entry breaks every hash after it, which
:func:`verify` finds. The entry is written in the same transaction as the change it records,
so a change never lands without its audit entry (and an aborted change leaves none).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from intrathecal.store.models import AuditEntry, AuditHead

GENESIS = "0" * 64


def canonical(seq: int, at: datetime, actor: str, action: str, target: str, detail: str) -> str:
    return json.dumps(
        {
            "seq": seq,
            "at": at.isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "target": target,
            "detail": detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def chain_hash(prev_hash: str, entry_text: str) -> str:
    return hashlib.sha256((prev_hash + entry_text).encode("utf-8")).hexdigest()


def record(
    session: Session,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry. The head row is locked so concurrent writers queue up in order."""
    at = at.astimezone(UTC)
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    detail_text = json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), default=str)
    # Microsecond precision survives every database's timestamp type, so the stored value hashes
    # the same when read back.
    seq = head.seq + 1
    text = canonical(seq, at, actor, action, target, detail_text)
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        target=target,
        detail_json=detail_text,
        prev_hash=head.hash,
        hash=chain_hash(head.hash, text),
    )
    session.add(entry)
    head.seq, head.hash = entry.seq, entry.hash
    session.flush()
    return entry


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    first_bad_seq: int | None
    problem: str


def _entries(session: Session, batch: int = 5000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = (
            session.execute(
                select(AuditEntry)
                .where(AuditEntry.seq > last)
                .order_by(AuditEntry.seq)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify(session: Session) -> Verification:
    """Recompute the chain from the start; report the first entry that does not fit."""
    prev, count, expected_seq = GENESIS, 0, 1
    for entry in _entries(session):
        if entry.seq != expected_seq:
            return Verification(
                False, count, entry.seq, f"entry {expected_seq} is missing (next is {entry.seq})"
            )
        if entry.prev_hash != prev:
            return Verification(
                False,
                count,
                entry.seq,
                f"entry {entry.seq} does not point to entry {entry.seq - 1}",
            )
        text = canonical(
            entry.seq, entry.at, entry.actor, entry.action, entry.target, entry.detail_json
        )
        if chain_hash(prev, text) != entry.hash:
            return Verification(
                False, count, entry.seq, f"entry {entry.seq} was changed after it was written"
            )
        prev, count, expected_seq = entry.hash, count + 1, expected_seq + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != count or head.hash != prev):
        return Verification(
            False,
            count,
            count + 1,
            f"the log ends at entry {count} but entry {head.seq} was written",
        )
    return Verification(True, count, None, f"{count} entries, chain intact")
