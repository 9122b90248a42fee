"""Connecting to the clinic database and bringing its schema up to date (Alembic).

``DATABASE_URL`` chooses the database (``postgresql+psycopg://...`` for a real clinic); without
it a SQLite file ``out/clinic.db`` under the working folder is created on first use.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from intrathecal.store import audit, audit_key, sqlite_writers
from intrathecal.units import InputError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
READ_ONLY = "intrathecal_read_only"  # execution option and session.info key
DEFAULT_SQLITE = Path("out") / "clinic.db"


def database_url(explicit: str | None = None) -> str:
    """The URL to use: an explicit one, else ``DATABASE_URL``, else the default SQLite file."""
    chosen = (explicit or "").strip() or os.environ.get("DATABASE_URL", "").strip()
    if chosen:
        # Heroku-style URLs name the driver-less scheme; psycopg 3 is the driver installed.
        # (--database too: the same URL works in both places.)
        if chosen.startswith(("postgres://", "postgresql://")):
            chosen = "postgresql+psycopg://" + chosen.split("://", 1)[1]
        return chosen
    return f"sqlite:///{DEFAULT_SQLITE}"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # As many connections as requests a worker runs at once (its 40 threads), so a burst
        # of users waits for SQLite's lock, never for a pool slot (which times out in 30 s);
        # kept open, as a new connection reads the schema and sets its pragmas again.
        connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": 30}
        if path and path != ":memory:":
            connect_args["factory"] = sqlite_writers.factory_for(path)
        engine = create_engine(url, connect_args=connect_args, pool_size=40, max_overflow=0)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets readers go on while a refill is written; foreign keys are off by default
            # in SQLite. The pysqlite driver's own BEGIN handling is replaced by an explicit
            # BEGIN IMMEDIATE (below) so a write transaction takes its lock up front.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            # A transaction that may write takes the write lock up front, so the audit chain's
            # head is read and advanced under one lock (SQLite has no SELECT ... FOR UPDATE). A
            # read-only one reads its WAL snapshot and waits for no one.
            read_only = connection.get_execution_options().get(READ_ONLY, False)
            dbapi = connection.connection.dbapi_connection
            # A read-only transaction is refused any write by SQLite itself (query_only), so
            # ending it with COMMIT (end_read_only) can never keep a stray write.
            dbapi.execute(f"PRAGMA query_only={int(read_only)}")
            if read_only:
                connection.exec_driver_sql("BEGIN")
            elif isinstance(dbapi, sqlite_writers.LockingConnection):
                dbapi.begin_write()  # queued on the file's writer lock (store/sqlite_writers.py)
            else:
                connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "begin")
        def _begin_postgresql(connection: Any) -> None:
            # psycopg sends BEGIN with the first statement: BEGIN READ ONLY for a read-only
            # transaction, so PostgreSQL refuses any write in it (no extra round trip).
            read_only = connection.get_execution_options().get(READ_ONLY, False)
            dbapi = connection.connection.dbapi_connection
            if dbapi.read_only != read_only:
                dbapi.read_only = read_only

    return engine


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine: Engine, audit_key: bytes | None = None) -> None:
    """Apply every migration not yet applied (creates the database on first run). The audit
    key seals an existing unkeyed audit chain (migration 0006)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["audit_key"] = audit_key
        command.upgrade(config, "head")


def session_factory(engine: Engine, audit_key: bytes | None = None) -> sessionmaker[Session]:
    # Every session carries the key its audit entries are chained with (store.audit).
    factory = sessionmaker(
        engine, expire_on_commit=False, info={audit.KEY: audit_key} if audit_key else None
    )

    @event.listens_for(factory, "before_flush")
    def _refuse_writes(session: Session, *_: Any) -> None:
        if session.info.get(READ_ONLY) and (session.new or session.dirty or session.deleted):
            raise RuntimeError("a session begun read-only tried to write")

    return factory


def begin_read_only(session: Session) -> None:
    """From its next transaction on, ``session`` only reads: on SQLite a plain BEGIN that takes
    no write lock (the WAL snapshot is enough). A flush through it then fails."""
    session.info[READ_ONLY] = True
    session.bind = session.get_bind().execution_options(**{READ_ONLY: True})


def end_read_only(session: Session) -> None:
    """End ``session``'s read-only transaction, if one is open, with COMMIT. The database
    refused it any write (query_only on SQLite, READ ONLY on PostgreSQL), so COMMIT keeps
    exactly what ROLLBACK would; but psycopg forgets its prepared statements on every
    ROLLBACK, and PostgreSQL then parses and plans each of a page's queries anew (its CPU for
    one chart view: 3.3 ms so, 1.8 ms with COMMIT)."""
    if session.info.get(READ_ONLY) and session.in_transaction():
        session.commit()


@contextmanager
def reading(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session of ``sessions`` that only reads (:func:`begin_read_only`), closed on exit: for
    work done before a write transaction takes the lock (a password check, a refill's maths)."""
    with sessions() as session:
        begin_read_only(session)
        yield session
        end_read_only(session)


def begin_read_only_once(session: Session) -> None:
    """``session``'s next transaction only reads (a plain BEGIN on SQLite); the ones after it
    may write again. No-op inside a transaction already begun."""
    if not session.in_transaction():
        session.connection(execution_options={READ_ONLY: True})


def open_database(url: str | None = None) -> tuple[Engine, sessionmaker[Session]]:
    """Engine and session factory for ``url`` (or the default), schema brought up to date, with
    the audit key (made on first use, see ``store.audit_key``)."""
    url = database_url(url)
    engine = make_engine(url)
    try:
        key = open_audit_key(engine, url)
        migrate(engine, key)
    except BaseException:
        engine.dispose()
        raise
    return engine, session_factory(engine, key)


def require_existing(url: str, field: str = "--database") -> None:
    """Refuse a database that is not there: a mistyped SQLite path would otherwise be created
    empty (and an empty audit log "verifies"), a PostgreSQL URL that cannot be reached is named."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if not path or path == ":memory:" or not Path(path).is_file():
            raise InputError(
                field,
                f"no clinic database at {path or url!r}; check the path (nothing was created)",
            )
    try:
        engine = create_engine(url, poolclass=NullPool)
        with engine.connect() as connection:
            found = inspect(connection).has_table("alembic_version")
        engine.dispose()
    except OperationalError as exc:
        raise InputError(field, f"cannot open {_shown(url)}: {exc.orig}") from None
    except ArgumentError as exc:
        raise InputError(field, f"{url!r} is not a database URL: {exc}") from None
    if not found:
        raise InputError(
            field, f"{_shown(url)} is not a clinic database (no schema); run `itp clinic init`"
        )


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def open_audit_key(engine: Engine, url: str) -> bytes:
    """The key of ``url``'s audit chain. An absent key file is created, unless the database
    already holds a keyed chain: a new key could not verify it, so the old one must be restored."""
    found = audit_key.load(url, create=False)
    if found is None:
        if _has_keyed_chain(engine):
            path = audit_key.key_path(url)
            raise InputError(
                audit_key.ENV_FILE,
                f"the audit key {path} is missing, and this database's audit chain was made "
                "with it: restore the key from the backup taken with the database (or set "
                f"{audit_key.ENV_KEY}); a new key could not verify the chain",
            )
        found = audit_key.load(url, create=True)
        assert found is not None
    return found.secret


def _has_keyed_chain(engine: Engine) -> bool:
    with engine.connect() as connection:
        schema = inspect(connection)
        if not schema.has_table("audit_head"):
            return False
        if "mac" not in {c["name"] for c in schema.get_columns("audit_head")}:
            return False
        sealed = text("SELECT 1 FROM audit_head WHERE mac IS NOT NULL")
        return connection.execute(sealed).first() is not None
