"""Append-only audit log of every chart read and every change, chained with a keyed MAC.

Each entry's hash = HMAC-SHA256(key, previous entry's hash + canonical JSON of the entry),
starting from 64 zeros. The key lives outside the database (:mod:`store.audit_key`), so someone
who can write the database but not read the key cannot change, delete or reorder an entry and
recompute the chain. The head row (last seq and hash) carries its own MAC, so cutting off the
tail and winding the head back is found too; and the log must account for every patient,
program version and refill stored, so wiping the log and its head together is found as well.

Entries written before the key existed (an unkeyed SHA-256 chain, up to ``legacy_seq``) are
kept as they are and checked with SHA-256; migration 0006 sealed their last hash into the keyed
head, and the first keyed entry chains from it.

The entry is written in the same transaction as the change it records, so a change never lands
without its audit entry (and an aborted change leaves none). The database itself refuses UPDATE
and DELETE on ``audit_entries`` (triggers made by migration 0006).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    Insert,
    Select,
    Table,
    Update,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from intrathecal.store.models import (
    AuditEntry,
    AuditHead,
    Patient,
    ProgramVersion,
    RecordVoid,
    Refill,
    RefillVoid,
)

GENESIS = "0" * 64
KEY = "intrathecal_audit_key"  # session.info key: the HMAC key (bytes), set by store.db

# Records whose creation the log must account for, one row each, never updated or deleted:
# the action that records one (a void of any other record is "<kind>.void"), and the key under
# which a seeding entry ("seed.demo", "seed.bulk") counts the rows it inserted. More rows than
# entries: entries were removed; fewer (where the count is exact): records were deleted.
ACCOUNTED: dict[str, tuple[type[Any], str]] = {
    "patients": (Patient, "patient.create"),
    "program_versions": (ProgramVersion, "program.sign"),
    "refills": (Refill, "refill.save"),
    "refill_voids": (RefillVoid, "refill.void"),
    "record_voids": (RecordVoid, "*.void"),
}


# Tables whose every row has exactly one entry (no seed summary counts them), so fewer rows
# than entries means a correction was deleted: the record it voided would silently count again.
EXACT = frozenset({"refill_voids", "record_voids"})


def _accounts(pattern: str, action: str) -> bool:
    if pattern == "*.void":
        return action.endswith(".void") and action != "refill.void"
    return action == pattern


class AuditBrokenError(RuntimeError):
    """The head of the chain is not the one the key sealed: nothing more is appended to it."""


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
    """The unkeyed SHA-256 link of the legacy segment (entries before migration 0006)."""
    return hashlib.sha256((prev_hash + entry_text).encode("utf-8")).hexdigest()


def chain_mac(key: bytes, prev_hash: str, entry_text: str) -> str:
    return hmac.new(key, (prev_hash + entry_text).encode("utf-8"), hashlib.sha256).hexdigest()


def head_mac(key: bytes, seq: int, last_hash: str, legacy_seq: int) -> str:
    message = f"audit-head:{seq}:{last_hash}:{legacy_seq}"
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def key_of(session: Session) -> bytes:
    key = session.info.get(KEY)
    if not isinstance(key, bytes):
        raise RuntimeError("this session has no audit key: open it with store.db.open_database")
    return key


def record(
    session: Session,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry. The head row is locked so concurrent writers queue up in order.

    Core statements, built once: an entry is written on every chart read, inside the clinic's
    one write lock on SQLite, where the ORM's unit of work cost twice the statements' time."""
    key = key_of(session)
    at = at.astimezone(UTC)
    session.flush()  # the change this entry records goes first (its rows, then the entry)
    read_head, add_head, add_entry, move_head = _statements()
    head = session.execute(read_head).one_or_none()
    if head is None:
        if session.execute(select(AuditEntry.seq).limit(1)).first() is not None:
            raise AuditBrokenError("the audit head is missing while entries exist")
        seq, last_hash, legacy_seq = 0, GENESIS, 0
        session.execute(add_head, {"seq": 0, "hash": GENESIS, "mac": head_mac(key, 0, GENESIS, 0)})
    else:
        seq, last_hash, legacy_seq, mac = head
        if mac is None or not hmac.compare_digest(mac, head_mac(key, seq, last_hash, legacy_seq)):
            # Appending would seal a head someone else wrote (a cut-off tail, a wound-back head).
            raise AuditBrokenError("the audit head does not carry the key's seal")
    detail_text = json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), default=str)
    # Microsecond precision survives every database's timestamp type, so the stored value hashes
    # the same when read back.
    seq += 1
    entry_hash = chain_mac(key, last_hash, canonical(seq, at, actor, action, target, detail_text))
    entry = {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "target": target,
        "detail_json": detail_text,
        "prev_hash": last_hash,
        "hash": entry_hash,
    }
    mac = head_mac(key, seq, entry_hash, legacy_seq)
    if session.get_bind().dialect.name == "postgresql":
        # One statement, one round trip fewer while the head is locked: every page writes one.
        session.execute(
            _append(), {f"new_{name}": value for name, value in entry.items()} | {"new_mac": mac}
        )
        return
    session.execute(add_entry, entry)
    session.execute(move_head, {"seq": seq, "hash": entry_hash, "mac": mac})


@cache
def _append() -> Update:
    """PostgreSQL: add the entry and move the head onto it in one statement (the INSERT a
    data-modifying WITH of the UPDATE), parameters ``new_<column>`` and ``new_mac``."""
    head, entries = cast(Table, AuditHead.__table__), cast(Table, AuditEntry.__table__)
    columns = ("seq", "at", "actor", "action", "target", "detail_json", "prev_hash", "hash")
    add = insert(entries).values(
        {name: bindparam(f"new_{name}", type_=entries.c[name].type) for name in columns}
    )
    moved: dict[str, Any] = {name: bindparam(f"new_{name}") for name in ("seq", "hash", "mac")}
    return update(head).where(head.c.id == 1).values(moved).add_cte(add.cte("entry"))


@cache
def _statements() -> tuple[Select[Any], Insert, Insert, Update]:
    """Read and lock the head; make the first head; add an entry; move the head onto it."""
    head, entries = cast(Table, AuditHead.__table__), cast(Table, AuditEntry.__table__)
    return (
        select(head.c.seq, head.c.hash, head.c.legacy_seq, head.c.mac)
        .where(head.c.id == 1)
        .with_for_update(),
        insert(head).values(id=1, legacy_seq=0),
        insert(entries),
        update(head).where(head.c.id == 1),
    )


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    first_bad_seq: int | None
    problem: str
    legacy: int = 0  # entries of the unkeyed segment before the key (checked with SHA-256)


class _MalformedError(ValueError):
    pass


@dataclass(frozen=True)
class _Row:
    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    detail_json: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


def _instant(value: object) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise _MalformedError(f"its time {value!r} is not a timestamp") from None
    if not isinstance(value, datetime):
        raise _MalformedError(f"its time is a {type(value).__name__}, not a timestamp")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _parse(raw: Any) -> _Row:
    """One stored row, read as raw values so a malformed one is reported, not raised."""
    seq, at, actor, action, target, detail_json, prev_hash, hash_ = tuple(raw)
    for name, value in (
        ("actor", actor),
        ("action", action),
        ("target", target),
        ("detail", detail_json),
        ("prev_hash", prev_hash),
        ("hash", hash_),
    ):
        if not isinstance(value, str):
            raise _MalformedError(f"its {name} is a {type(value).__name__}, not text")
    try:
        detail = json.loads(detail_json)
    except ValueError:
        raise _MalformedError("its detail is not JSON") from None
    if not isinstance(detail, dict):
        raise _MalformedError("its detail is not a JSON object")
    return _Row(seq, _instant(at), actor, action, target, detail_json, detail, prev_hash, hash_)


def _raw_entries(session: Session, batch: int = 5000) -> Iterator[tuple[int, Any]]:
    last = 0
    query = text(
        "SELECT seq, at, actor, action, target, detail_json, prev_hash, hash "
        "FROM audit_entries WHERE seq > :last ORDER BY seq LIMIT :batch"
    )
    while True:
        rows = session.execute(query, {"last": last, "batch": batch}).all()
        if not rows:
            return
        for row in rows:
            yield int(row[0]), row
        last = int(rows[-1][0])


def _implied(counts: dict[str, int], row: _Row) -> None:
    seeded = row.action.startswith("seed.")
    for table, (_, action) in ACCOUNTED.items():
        if _accounts(action, row.action):
            counts[table] += 1
        elif seeded and isinstance(row.detail.get(table), int):
            counts[table] += row.detail[table]


def verify(session: Session) -> Verification:
    """Recompute the chain from the start; report the first entry that does not fit, then check
    the sealed head and that the log accounts for every record stored."""
    key = key_of(session)
    head = session.execute(
        text("SELECT seq, hash, legacy_seq, mac FROM audit_head WHERE id = 1")
    ).first()
    legacy = int(head[2]) if head is not None and isinstance(head[2], int) else 0
    prev, count, expected_seq = GENESIS, 0, 1
    implied = dict.fromkeys(ACCOUNTED, 0)
    for seq, raw in _raw_entries(session):
        if seq != expected_seq:
            problem = f"entry {expected_seq} is missing (next is {seq})"
            return Verification(False, count, expected_seq, problem, legacy)
        try:
            entry = _parse(raw)
        except (_MalformedError, ValueError, TypeError) as exc:
            return Verification(False, count, seq, f"entry {seq} is malformed: {exc}", legacy)
        if entry.prev_hash != prev:
            problem = f"entry {seq} does not point to entry {seq - 1}"
            return Verification(False, count, seq, problem, legacy)
        body = canonical(seq, entry.at, entry.actor, entry.action, entry.target, entry.detail_json)
        link = chain_hash(prev, body) if seq <= legacy else chain_mac(key, prev, body)
        if not hmac.compare_digest(link, entry.hash):
            problem = f"entry {seq} was changed after it was written (or with another key)"
            return Verification(False, count, seq, problem, legacy)
        _implied(implied, entry)
        prev, count, expected_seq = entry.hash, count + 1, expected_seq + 1
    if head is None:
        if count:
            return Verification(False, count, 1, "the head of the log is missing", legacy)
    else:
        seq, last_hash, mac = head[0], head[1], head[3]
        sealed = (
            isinstance(seq, int)
            and isinstance(last_hash, str)
            and isinstance(mac, str)
            and hmac.compare_digest(mac, head_mac(key, seq, last_hash, legacy))
        )
        if not sealed:
            problem = "the head of the log was changed: its seal does not match the key"
            return Verification(False, count, count + 1, problem, legacy)
        if seq != count or last_hash != prev:
            problem = f"the log ends at entry {count} but entry {seq} was written"
            return Verification(False, count, count + 1, problem, legacy)
    for table, (model, _) in ACCOUNTED.items():
        stored = session.execute(select(func.count()).select_from(model)).scalar_one()
        if stored > implied[table]:
            problem = (
                f"{stored} {table.replace('_', ' ')} are stored but the log records the "
                f"creation of {implied[table]}: entries were removed"
            )
            return Verification(False, count, count + 1, problem, legacy)
        if table in EXACT and stored < implied[table]:
            problem = (
                f"the log records the creation of {implied[table]} {table.replace('_', ' ')} "
                f"but {stored} are stored: records were deleted"
            )
            return Verification(False, count, count + 1, problem, legacy)
    note = f" ({legacy} unkeyed entries from before the key, sealed)" if legacy else ""
    return Verification(True, count, None, f"{count} entries, chain intact{note}", legacy)
