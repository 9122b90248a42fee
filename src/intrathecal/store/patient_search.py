"""Finding a patient by MRN or by any part of the name, through indexes (issue 11, item 10).

- An exact MRN (as typed, or in capitals) is looked up in its unique index: one row.
- Otherwise the name: any part of it, case-insensitive. SQLite answers from ``patients_fts``
  (FTS5, trigram tokenizer, migration 0011), PostgreSQL from the trigram GIN index on
  ``patients.name`` (pg_trgm), which serves ``ilike``. A trigram needs three characters: a
  shorter query (one or two letters, which match thousands anyway) reads the table.
- The start of an MRN ("MRN1000", "mrn1000") is a range of the same unique index: every MRN
  that begins so. Only when none does is the text looked for in the names. (Part of an MRN
  from its middle, "1000", is not searched: it would read every row.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, and_, func, or_, select, text
from sqlalchemy.orm import Session

from intrathecal.store.models import Patient

MIN_INDEXED = 3  # characters: a trigram


@dataclass(frozen=True)
class Found:
    total: int
    patients: list[Patient]
    by: str  # "mrn", "name" or "all": how they were found (for the page and the audit)


def _like(q: str) -> str:
    """``q`` as a LIKE pattern for "contains", its wildcards taken literally."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _name_filter(session: Session, q: str) -> Any:
    wild = any(c in q for c in "%_\\")
    if session.get_bind().dialect.name == "sqlite" and len(q) >= MIN_INDEXED and not wild:
        # The FTS5 trigram table answers LIKE from its index (SQLite 3.34+), case-insensitive.
        ids = text("SELECT rowid FROM patients_fts WHERE name LIKE :pattern")
        return Patient.id.in_(ids.bindparams(pattern=f"%{q}%").columns(rowid=Integer))
    return Patient.name.ilike(_like(q), escape="\\")


def _mrn_starts(q: str) -> Any:
    """MRNs beginning with ``q`` (as typed or in capitals): a range of the unique index, checked
    with LIKE so a database collation that sorts case or accents loosely adds nothing."""

    def starts(prefix: str) -> Any:
        pattern = _like(prefix)[1:]  # "abc%": a start, its wildcards taken literally
        after = prefix[:-1] + chr(ord(prefix[-1]) + 1)  # the first text past every such MRN
        return and_(
            Patient.mrn >= prefix, Patient.mrn < after, Patient.mrn.like(pattern, escape="\\")
        )

    return or_(*(starts(prefix) for prefix in dict.fromkeys((q, q.upper()))))


def search(session: Session, q: str, *, offset: int = 0, limit: int = 50) -> Found:
    """Patients matching ``q`` (all when it is blank), in id order, ``limit`` from ``offset``."""
    q = q.strip()
    if not q:
        total = session.execute(select(func.count()).select_from(Patient)).scalar_one()
        rows = session.execute(select(Patient).order_by(Patient.id).limit(limit).offset(offset))
        return Found(total, list(rows.scalars()), "all")
    exact = list(session.execute(select(Patient).where(Patient.mrn.in_({q, q.upper()}))).scalars())
    if exact:
        return Found(len(exact), exact[offset : offset + limit], "mrn")
    by, where = "mrn", _mrn_starts(q)
    total = session.execute(select(func.count()).select_from(Patient).where(where)).scalar_one()
    if not total:
        by, where = "name", _name_filter(session, q)
        total = session.execute(select(func.count()).select_from(Patient).where(where)).scalar_one()
    rows = session.execute(
        select(Patient).where(where).order_by(Patient.id).limit(limit).offset(offset)
    )
    return Found(total, list(rows.scalars()), by)
