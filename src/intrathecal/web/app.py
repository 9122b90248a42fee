"""The app factory: ``create_app(database_url)`` gives a FastAPI app serving pages and API."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from intrathecal.outcomes import InvalidOutcomesError
from intrathecal.store.audit import AuditBrokenError
from intrathecal.store.db import open_database
from intrathecal.store.errors import BlockedError, ConflictError, NotFoundError
from intrathecal.store.programs import finding_dict
from intrathecal.therapy.errors import InvalidProgramError
from intrathecal.units import InputError
from intrathecal.web import error_pages, health, idempotency
from intrathecal.web.api.routes import BadSignInError, TooManyError, router
from intrathecal.web.api.validation import field_errors
from intrathecal.web.deps import CsrfError, ForbiddenError, NotSignedInError, checked_parameters
from intrathecal.web.headers import SecurityHeaders
from intrathecal.web.pump_link import PumpLinks, TypedLinks
from intrathecal.web.settings import Settings, from_env
from intrathecal.web.worker_balance import BalanceWorkers

HERE = Path(__file__).resolve().parent


def _utc_now() -> datetime:
    return datetime.now(UTC)


# Threads a worker process runs the (synchronous) routes on. The work is CPU-bound Python, so
# more threads only queue for the interpreter lock: 40 (the default) gave half the throughput
# of 2-4 on the dashboard, and a longer tail. Scale with worker processes instead.
WORKER_THREADS = 2


@asynccontextmanager
async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
    anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
    # The modules, library and app built at start live as long as the process: moved out of
    # the collector's sight, a full collection no longer walks them (it stalled every request
    # in flight for tens of milliseconds).
    gc.collect()
    gc.freeze()
    yield


def create_app(
    database_url: str | None = None,
    *,
    clock: Callable[[], datetime] = _utc_now,
    pump_links: PumpLinks | None = None,
    settings: Settings | None = None,
) -> FastAPI:
    """The clinic app on ``database_url`` (default: ``DATABASE_URL`` or ``out/clinic.db``).

    The schema is migrated on creation. ``clock`` gives "now" (tests pass a fixed one);
    ``pump_links`` connects the refill wizard to pumps (default: values typed in);
    ``settings`` (default: from the environment, ``web/settings.py``) the base URL and cookies.
    """
    settings = settings or from_env()
    engine, sessions = open_database(database_url)
    app = FastAPI(
        lifespan=_lifespan,
        title="Intrathecal pump clinic",
        description="Reference calculations for trained clinicians. Quantities are text with "
        'their unit ("20 mL"); JSON keys carry their unit in their name.',
        version="1",
        docs_url="/api/v1/docs",
        openapi_url="/api/v1/openapi.json",
        redoc_url=None,
        dependencies=[Depends(checked_parameters)],
    )
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.clock = clock
    app.state.pump_links = pump_links or TypedLinks()
    app.state.settings = settings
    app.include_router(router)
    app.include_router(health.router)
    from intrathecal.web import (
        bolus_pages,
        journey_pages,
        pages,
        program_apply_pages,
        program_pages,
        refill_pages,
    )
    from intrathecal.web.api import admin, patient_records
    from intrathecal.web.api import boluses as bolus_api

    app.include_router(patient_records.router)
    app.include_router(admin.router)
    app.include_router(bolus_api.router)  # a clinician or bridge bolus between refills

    app.include_router(pages.router)
    app.include_router(journey_pages.router)
    app.include_router(program_pages.router)  # the program editor
    app.include_router(refill_pages.router)  # the refill wizard and record
    app.include_router(program_apply_pages.router)  # a program to the pump between refills
    app.include_router(bolus_pages.router)  # a clinician or bridge bolus between refills
    from intrathecal.web import calendar_pages

    app.include_router(calendar_pages.router)
    from intrathecal.web import outcomes_pages
    from intrathecal.web.api import outcomes_routes

    app.include_router(outcomes_routes.router)
    app.include_router(outcomes_pages.router)
    from intrathecal.web import forecast_pages, mri_pages

    app.include_router(mri_pages.router)
    app.include_router(forecast_pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BalanceWorkers)  # outermost: counts each request from start to end
    _handlers(app)
    idempotency.install(app)
    return app


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _errors(status: int, errors: list[dict[str, str]], **extra: Any) -> JSONResponse:
    return JSONResponse({"ok": False, "errors": errors, **extra}, status_code=status)


def _error_page(request: Request, status: int, title: str, *messages: str) -> Response:
    """A page for a browser (the API answers JSON): same status, readable, with a way back."""
    return error_pages.page(request, status, title, messages)


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """Starlette's own refusals (no such path, wrong method, a body that is not JSON) in the
        same shape as every other error; a body that cannot be read is invalid input (422)."""
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            return _errors(422, [{"field": "body", "message": "not valid JSON (UTF-8)"}])
        if not _is_api(request):
            if exc.status_code == 400 and "parsing the body" in str(exc.detail):
                return _error_page(request, 422, "Not saved", "The form could not be read.")
            page = error_pages.status_page(request, exc.status_code)
            page.headers.update(exc.headers or {})  # Allow: on a 405
            return page
        response = _errors(exc.status_code, [{"field": "path", "message": str(exc.detail)}])
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = field_errors(exc.errors())
        if not _is_api(request):  # a page answers a page, never JSON (issue 11, item 8)
            if request.method in ("GET", "HEAD"):  # an address, not a form: nothing was saved
                lines = [error_pages.readable(e) for e in exc.errors()]
                return _error_page(request, 422, "Not valid", *lines)
            text = "; ".join(f"{e['field']} {e['message']}" for e in errors)
            return _error_page(request, 422, "Not saved", f"{text}. Nothing was changed.")
        return _errors(422, errors)

    @app.exception_handler(InputError)
    async def bad_input(request: Request, exc: InputError) -> Response:
        if not _is_api(request):
            if request.method in ("GET", "HEAD"):
                return _error_page(request, 422, "Not valid", str(exc))
            text = f"{exc.field} {exc.message}. Nothing was changed."
            return _error_page(request, 422, "Not saved", text)
        return _errors(422, [{"field": exc.field, "message": exc.message}])

    @app.exception_handler(InvalidOutcomesError)
    async def bad_outcomes(request: Request, exc: InvalidOutcomesError) -> Response:
        if not _is_api(request):
            lines = [f"{e.field}: {e.message}" for e in exc.errors]
            return _error_page(request, 422, "Not valid", *lines)
        return _errors(422, [{"field": e.field, "message": e.message} for e in exc.errors])

    @app.exception_handler(InvalidProgramError)
    async def bad_program(request: Request, exc: InvalidProgramError) -> Response:
        if not _is_api(request):
            lines = [f"{e.field}: {e.message}" for e in exc.errors]
            return _error_page(request, 422, "Program not valid", *lines)
        return _errors(422, [{"field": e.field, "message": e.message} for e in exc.errors])

    @app.exception_handler(BlockedError)
    async def blocked(request: Request, exc: BlockedError) -> Response:
        findings = [finding_dict(f) for f in exc.findings]
        errors = [
            {"field": f["field"], "message": f"{f['code']}: {f['message']}"}
            for f in findings
            if f["severity"] == "hard"
        ] + [
            {"field": "acknowledgements", "message": f"{f.code} needs an acknowledgement"}
            for f in exc.unacknowledged
        ]
        if not _is_api(request):
            return _error_page(request, 422, "Not saved", *(e["message"] for e in errors))
        return _errors(422, errors, findings=findings)

    @app.exception_handler(ConflictError)
    async def conflict(request: Request, exc: ConflictError) -> Response:
        if not _is_api(request):
            return _error_page(request, 409, "Changed meanwhile", exc.message)
        return _errors(
            409,
            [{"field": exc.field, "message": exc.message}],
            **{exc.current_key: exc.current_version},
        )

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> Response:
        if not _is_api(request):
            return _error_page(request, 404, "Not found", error_pages.not_found_message(exc.what))
        return _errors(404, [{"field": "path", "message": str(exc)}])

    @app.exception_handler(NotSignedInError)
    async def not_signed_in(request: Request, _: NotSignedInError) -> Response:
        if _is_api(request):
            return _errors(401, [{"field": "auth", "message": "sign in first"}])
        return RedirectResponse(f"/sign-in?next={request.url.path}", status_code=303)

    @app.exception_handler(ForbiddenError)
    async def forbidden(request: Request, exc: ForbiddenError) -> Response:
        if not _is_api(request):
            return _error_page(request, 403, "Not allowed", f"Not allowed: {exc}.")
        return _errors(403, [{"field": "role", "message": str(exc)}])

    @app.exception_handler(AuditBrokenError)
    async def audit_broken(request: Request, exc: AuditBrokenError) -> Response:
        # Nothing is read or changed while the audit log cannot record it (issue 10, item 8).
        message = f"{exc}; nothing can be recorded until an administrator runs itp audit verify"
        if not _is_api(request):
            return _error_page(request, 503, "Audit log broken", message)
        return _errors(503, [{"field": "audit", "message": message}])

    @app.exception_handler(CsrfError)
    async def csrf(request: Request, __: CsrfError) -> Response:
        if not _is_api(request):
            message = "The form had expired or came from elsewhere; reload the page and try again"
            return _error_page(request, 403, "Form expired", message)
        return _errors(403, [{"field": "csrf_token", "message": "missing or wrong CSRF token"}])

    @app.exception_handler(TooManyError)
    async def too_many(_: Request, exc: TooManyError) -> Response:
        response = _errors(429, [{"field": "username", "message": str(exc)}])
        response.headers["Retry-After"] = str(max(int(exc.wait_s + 0.999), 1))
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, _: Exception) -> Response:
        # A fault of ours, not of the input: said in words (the traceback goes to the log).
        message = "Something went wrong on the server; nothing more was done. Please tell IT"
        if not _is_api(request):
            return _error_page(request, 500, "Server error", message)
        return _errors(500, [{"field": "server", "message": message}])

    @app.exception_handler(BadSignInError)
    async def bad_sign_in(_: Request, __: BadSignInError) -> Response:
        return _errors(401, [{"field": "password", "message": "wrong user name or password"}])
