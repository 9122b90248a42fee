"""API fuzz (issue 10): schemathesis generates requests from the app's own OpenAPI, valid and
invalid, for every operation, and sends them in-process (ASGI). No answer may be a server error,
and every answer must be one the operation declares, with the declared content type and a body
that fits its declared schema.

Bounded: ``ITP_FUZZ_EXAMPLES`` requests per operation and mode (default 20: about 30 s on
SQLite, a minute on PostgreSQL).
Signed in as a physician (the broadest clinical rights); the admin's routes as the admin. A
fresh session is made for each request, so an operation that ends sessions, deactivates a user
or changes a role (all fuzzed too) cannot blind the requests after it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import checks
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.store import users
from intrathecal.store.models import SessionToken, User
from intrathecal.store.seed import DEMO_USERS, seed_demo
from intrathecal.web.app import create_app
from tests.store.conftest import NOW, fresh_url

EXAMPLES = int(os.environ.get("ITP_FUZZ_EXAMPLES", "20"))
ADMIN_PATHS = ("/api/v1/users", "/api/v1/sessions", "/api/v1/audit")
CHECKS = [
    checks.not_a_server_error,
    checks.negative_data_rejection,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[object]:
    url = fresh_url(request.param, Path(tmp_path_factory.mktemp("fuzz")))
    app = create_app(url, clock=lambda: NOW)
    with app.state.sessions.begin() as session:
        seed_demo(session, patients=6, now=NOW)
    yield app
    app.state.engine.dispose()


def fresh_token(sessions: sessionmaker[Session], username: str) -> str:
    """A new session for a demo user, restored to its demo role and active (the fuzzer may have
    deactivated or demoted it): a database row, no password hashing per request."""
    role = next(r for u, _, r, _ in DEMO_USERS if u == username)
    token = secrets.token_urlsafe(32)
    with sessions.begin() as session:
        user = session.execute(select(User).where(User.username == username)).scalar_one()
        user.active, user.role = True, role
        session.add(
            SessionToken(
                token_hash=users.token_hash(token),
                user_id=user.id,
                csrf_token=secrets.token_urlsafe(16),
                created_at=NOW,
                expires_at=NOW + timedelta(hours=1),
            )
        )
    return token


def runner(
    operation: schemathesis.APIOperation,
    sessions: sessionmaker[Session],
    username: str,
    mode: schemathesis.GenerationMode,
) -> Callable[[], None]:
    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        token = fresh_token(sessions, username)
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

    return run  # type: ignore[no-any-return]


def test_api_answers_as_declared(fuzz_app: object) -> None:
    """Every operation in turn (schemathesis' own pytest plugin does not run on pytest 9 yet, so
    each operation's strategy is drawn by hypothesis here); all failures reported together."""
    api = schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzz_app)
    sessions = fuzz_app.state.sessions  # type: ignore[attr-defined]
    failures: list[str] = []
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 40
    for operation in operations:
        username = "admin" if operation.path.startswith(ADMIN_PATHS) else "physician"
        # Valid requests, and requests that break the schema (which must get a 4xx answer).
        for mode in schemathesis.GenerationMode:
            try:
                runner(operation, sessions, username, mode)()
            except Unsatisfiable:
                pass  # nothing to break: the operation takes no parameter and no body
            except (Exception, BaseExceptionGroup) as failure:  # every operation; all failures
                failures.append(f"{operation.label} ({mode.value}): {str(failure)[:2000]}")
    assert not failures, "\n\n".join(failures)
