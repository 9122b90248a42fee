"""The error answers a route declares in the OpenAPI, all in the one shape
``{"ok": false, "errors": [{"field", "message"}]}`` (see ``web/app.py``'s handlers)."""

from __future__ import annotations

from typing import Any

from intrathecal.web.api.schemas import ErrorAnswer

WHY = {
    401: "not signed in, or the session ended",
    403: "the role may not do this, or the CSRF token is missing or wrong",
    404: "no such record",
    409: "someone changed the record first (replaces_version)",
    422: "invalid input: the field and why",
    429: "too many failed sign-ins from this address: wait (Retry-After)",
}

# What every signed-in route may answer besides success.
SIGNED_IN = (401, 403, 422)


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route decorator: each code with the error model and its meaning."""
    return {code: {"model": ErrorAnswer, "description": WHY[code]} for code in codes}


def signed_in(*more: int) -> dict[int | str, dict[str, Any]]:
    return errors(*sorted({*SIGNED_IN, *more}))
