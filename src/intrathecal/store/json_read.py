"""Several kinds of a patient's records in one round trip, on PostgreSQL.

A chart shows eleven kinds of record. Read one statement each, PostgreSQL costs a round trip
per kind, and SQLAlchemy and psycopg about 0.2 ms of the app's CPU per statement even when it
finds no row: with 20 users on two cores that was a fifth of a chart view. Here one statement
asks for every kind at once, each kind's rows aggregated into a JSON array (``json_agg`` of
``json_build_array`` of its columns, in the kind's order), and the rows are built back into the
mapped classes with each column's Python value: the same objects, attribute for attribute, that
the ORM would have loaded (tests/store/test_json_read.py compares the two).

The objects belong to no session: they are for reading (a page, an answer), never for writing.
On SQLite, in the app's own process, a statement costs little and the ORM reads each kind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Boolean, Date, Float, Integer, String, Text, bindparam, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session
from sqlalchemy.orm.instrumentation import manager_of_class

from intrathecal.store.models import Base
from intrathecal.store.types import UTCDateTime

# A kind: the mapped class and the column its rows are ordered by (then by id).
Kind = tuple[type[Base], str]


def read(session: Session, patient_id: int, kinds: Sequence[Kind]) -> list[list[Any]]:
    """Each kind's rows of ``patient_id``, in the kind's order, one statement in all."""
    statement, builders = _statement(tuple(kinds))
    row = session.execute(statement, {"patient_id": patient_id}).one()
    return [build(rows) for build, rows in zip(builders, row, strict=True)]


@cache
def _statement(kinds: tuple[Kind, ...]) -> tuple[Any, list[Callable[[list[Any]], list[Any]]]]:
    """Built once per tuple of kinds (the statement and how to build each kind's objects)."""
    columns_of, builders = [], []
    for model, order in kinds:
        table = model.__table__
        columns = list(table.columns)
        ordered = aggregate_order_by(func.json_build_array(*columns), table.c[order], table.c.id)
        aggregated = (
            select(func.coalesce(func.json_agg(ordered), func.json_build_array()))
            .where(table.c.patient_id == bindparam("patient_id"))
            .scalar_subquery()
        )
        columns_of.append(aggregated)
        builders.append(_builder(model, [(c.key, _converter(c.type)) for c in columns]))
    return select(*columns_of), builders


def _builder(
    model: type[Base], columns: list[tuple[str, Callable[[Any], Any]]]
) -> Callable[[list[Any]], list[Any]]:
    manager = manager_of_class(model)

    def build(rows: list[Any]) -> list[Any]:
        built = []
        for values in rows:
            instance = manager.new_instance()
            # As the ORM's loader does: loaded values straight into the instance's dict (no
            # change history, nothing to flush).
            instance.__dict__.update(
                (key, None if value is None else convert(value))
                for (key, convert), value in zip(columns, values, strict=True)
            )
            built.append(instance)
        return built

    return build


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _converter(column_type: Any) -> Callable[[Any], Any]:
    """The Python value of a column from its JSON value; a type not listed is refused when the
    statement is built, so a new column of another type is noticed, not read wrong."""
    if isinstance(column_type, UTCDateTime):
        return _instant  # timestamptz: ISO 8601 with the session's offset
    if isinstance(column_type, Date):
        return date.fromisoformat
    if isinstance(column_type, Float):
        return float  # JSON writes 5.0 as 5
    if isinstance(column_type, Boolean):
        return bool
    if isinstance(column_type, Integer | String | Text):
        return _same
    raise TypeError(f"no JSON reading for a column of type {column_type!r}")


def _same(value: Any) -> Any:
    return value
