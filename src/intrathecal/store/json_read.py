"""Several reads in one round trip on PostgreSQL: a patient's records, the dashboard's lists.

A chart shows eleven kinds of record. Read one statement each, PostgreSQL costs a round trip
per kind, and SQLAlchemy and psycopg about 0.2 ms of the app's CPU per statement even when it
finds no row: with 20 users on two cores that was a fifth of a chart view. Here one statement
asks for every kind at once, each kind's rows aggregated into a JSON array (``json_agg`` of
``json_build_array`` of its columns, in the kind's order), and the rows are built back into the
mapped classes with each column's Python value: the same objects, attribute for attribute, that
the ORM would have loaded (tests/store/test_json_read.py compares the two).

The dashboard's worklists go the same way (``Listing``): each a list of columns, filter, order
and limit, read as its own statement on SQLite and all in one on PostgreSQL, the same rows.

The objects belong to no session: they are for reading (a page, an answer), never for writing.
On SQLite, in the app's own process, a statement costs little and the ORM reads each kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache, cached_property
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
    """Each kind's rows of ``patient_id``, in the kind's order: one statement in all on
    PostgreSQL, one statement a kind elsewhere."""
    if session.get_bind().dialect.name != "postgresql":
        return read_apart(session, patient_id, kinds)
    statement, builders = _statement(tuple(kinds))
    row = session.execute(statement, {"patient_id": patient_id}).one()
    return [build(rows) for build, rows in zip(builders, row, strict=True)]


def read_apart(session: Session, patient_id: int, kinds: Sequence[Kind]) -> list[list[Any]]:
    """What ``read`` gives, the ORM reading each kind (SQLite's way, and the tests' yardstick)."""
    params = {"patient_id": patient_id}
    return [list(session.execute(_kind_query(m, order), params).scalars()) for m, order in kinds]


@cache
def _kind_query(model: type[Base], order: str) -> Any:
    # Built once per kind: the chart reads eleven kinds on every view, and building the
    # statements anew was a third of its time (SQLAlchemy, not the database).
    table = model.__table__
    return (
        select(model)
        .where(table.c.patient_id == bindparam("patient_id"))
        .order_by(table.c[order], table.c.id)
    )


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
        builders.append(_builder(model, columns))
    return select(*columns_of), builders


def _builder(model: type[Base], columns: list[Any]) -> Callable[[list[Any]], list[Any]]:
    keys, converters = [c.key for c in columns], [_converter(c.type) for c in columns]

    def build(rows: list[Any]) -> list[Any]:
        return [
            entity(model, zip(keys, _values(converters, values), strict=True)) for values in rows
        ]

    return build


def _values(converters: Sequence[Callable[[Any], Any]], values: Sequence[Any]) -> tuple[Any, ...]:
    """Each JSON value as its column's Python value (None stays None)."""
    return tuple(
        None if value is None else convert(value)
        for convert, value in zip(converters, values, strict=True)
    )


def entity(model: type[Base], values: Iterable[tuple[str, Any]]) -> Any:
    """An instance of ``model`` holding ``values`` ((column key, Python value) pairs) as loaded:
    as the ORM's loader does, straight into the instance's dict (no change history, nothing to
    flush, no session)."""
    instance = manager_of_class(model).new_instance()
    instance.__dict__.update(values)
    return instance


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: statements cache on it
class Listing:
    """A worklist: ``columns`` of the rows ``where`` holds, in ``order``, at most ``limit``."""

    columns: tuple[Any, ...]
    where: tuple[Any, ...]
    order: tuple[Any, ...]
    limit: int
    joins: tuple[tuple[Any, Any], ...] = ()  # (table, on clause)

    @cached_property
    def select(self) -> Any:
        """The listing as a statement of its own (built once: building is SQLAlchemy's most
        costly step for a small read)."""
        statement = select(*self.columns)
        for table, on in self.joins:
            statement = statement.join(table, on)
        return statement.where(*self.where).order_by(*self.order).limit(self.limit)

    def aggregated(self) -> Any:
        """The rows as one JSON array, in order (numbered in the limited subquery: an
        aggregate keeps no order of its input unless told)."""
        number = func.row_number().over(order_by=self.order).label("listing_row")
        rows = self.select.add_columns(number).subquery()
        values = func.json_build_array(*list(rows.c)[:-1])
        ordered = func.json_agg(aggregate_order_by(values, rows.c.listing_row))
        return select(func.coalesce(ordered, func.json_build_array())).scalar_subquery()


def listings(
    session: Session,
    scalars: Sequence[Any],
    listed: Sequence[Listing],
    params: Mapping[str, Any],
) -> tuple[list[Any], list[list[tuple[Any, ...]]]]:
    """The values of ``scalars`` (scalar subqueries) and each listing's rows as tuples of
    Python values: one statement each on SQLite, one in all on PostgreSQL."""
    if session.get_bind().dialect.name != "postgresql":
        return listings_apart(session, scalars, listed, params)
    statement, converters = _listings_statement(tuple(scalars), tuple(listed))
    row = session.execute(statement, params).one()
    found = [
        [_values(columns, values) for values in rows]
        for columns, rows in zip(converters, row[len(scalars) :], strict=True)
    ]
    return list(row[: len(scalars)]), found


def listings_apart(
    session: Session,
    scalars: Sequence[Any],
    listed: Sequence[Listing],
    params: Mapping[str, Any],
) -> tuple[list[Any], list[list[tuple[Any, ...]]]]:
    """What ``listings`` gives, a statement each (SQLite's way, and the tests' yardstick)."""
    values = list(session.execute(_scalars_statement(tuple(scalars)), params).one())
    return values, [[tuple(r) for r in session.execute(x.select, params)] for x in listed]


@cache
def _scalars_statement(scalars: tuple[Any, ...]) -> Any:
    return select(*scalars)


@cache
def _listings_statement(
    scalars: tuple[Any, ...], listed: tuple[Listing, ...]
) -> tuple[Any, list[list[Callable[[Any], Any]]]]:
    converters = [[_converter(c.type) for c in x.columns] for x in listed]
    return select(*scalars, *(x.aggregated() for x in listed)), converters


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
