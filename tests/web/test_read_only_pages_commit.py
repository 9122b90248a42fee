"""A page that only reads ends its transactions with COMMIT (store/db.end_read_only): the same
for the data, and psycopg keeps its prepared statements, which every ROLLBACK throws away
(PostgreSQL then parsed and planned each of the page's queries on every view)."""

from __future__ import annotations

from sqlalchemy import event

from tests.web.conftest import Clinic


def ends(clinic: Clinic, path: str) -> list[str]:
    engine = clinic.sessions.kw["bind"]
    seen: list[str] = []

    def commit(_connection: object) -> None:
        seen.append("commit")

    def rollback(_connection: object) -> None:
        seen.append("rollback")

    event.listen(engine, "commit", commit)
    event.listen(engine, "rollback", rollback)
    try:
        answer = clinic.client.get(path, headers=clinic.headers("nurse"))
        assert answer.status_code == 200, answer.text
    finally:
        event.remove(engine, "commit", commit)
        event.remove(engine, "rollback", rollback)
    return seen


def test_read_only_page_ends_with_commit(clinic: Clinic) -> None:
    # The sign-in lookup, the read's audit entry (a short write of its own) and the page's
    # reads: three transactions, each committed.
    for path in ("/", "/calendar", "/patients/1/program", "/api/v1/patients/1/refills"):
        assert ends(clinic, path) == ["commit", "commit", "commit"], path


def test_chart_reads_after_its_audit_entry_and_ends_with_commit(clinic: Clinic) -> None:
    # The sign-in lookup, the audit entry and the chart's reads: three transactions, each
    # committed (the chart's reads begin read-only after the entry is stored).
    assert ends(clinic, "/patients/1") == ["commit", "commit", "commit"]
