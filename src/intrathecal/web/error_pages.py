"""Errors a browser reads: a page in words, never the API's JSON nor a Python message.

The API (paths under ``/api/``) answers every error as JSON (``web/app.py``); everything else is
a page, and these helpers turn an error into one: a title, sentences naming the field, and a way
back. Validation messages come from pydantic in its own words ("Input should be a valid
integer, unable to parse string as an integer"); ``readable`` says the same for a person.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

# pydantic error type -> a sentence ending for the field ("offset must be a whole number").
_MESSAGES = {
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be yes or no",
    "missing": "is missing",
    "string_too_long": "is too long (at most {max_length} characters)",
    "string_too_short": "is too short (at least {min_length} characters)",
    "greater_than_equal": "must be {ge} or more",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be {le} or less",
    "less_than": "must be less than {lt}",
    "datetime_parsing": "must be a date and time like 2026-03-02T09:00:00Z",
    "datetime_from_date_parsing": "must be a date and time like 2026-03-02T09:00:00Z",
    "date_parsing": "must be a date like 2026-03-02",
    "date_from_datetime_parsing": "must be a date like 2026-03-02",
    "enum": "must be one of: {expected}",
    "literal_error": "must be one of: {expected}",
}

# Path parameter -> the word a person uses for it.
_FIELD_NAMES = {
    "patient_id": "patient number",
    "refill_id": "refill number",
    "record_id": "record number",
    "user_id": "user number",
    "alarm_id": "alarm number",
    "version": "program version",
}

# Starlette's refusals by status, in words.
_STATUS = {
    400: ("Bad request", "The request could not be read."),
    404: ("Not found", "There is no such page."),
    405: ("Not allowed here", "This page cannot be used that way. Go back and use its form."),
    413: ("Too large", "What was sent is too large."),
}

MAX_SHOWN = 200  # characters of a value echoed back in a message (a 10 MB field is not shown)


def field_name(loc: Iterable[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "form")]
    name = ".".join(parts) or "the request"
    return _FIELD_NAMES.get(name, name.replace("_", " "))


def readable(error: Mapping[str, Any]) -> str:
    """One pydantic error as a sentence: "offset must be a whole number"."""
    field = field_name(error.get("loc", ()))
    template = _MESSAGES.get(str(error.get("type", "")))
    context = dict(error.get("ctx") or {})
    if template is not None:
        try:
            return f"{field} {template.format(**context)}"
        except (KeyError, IndexError):
            pass
    message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    return f"{field}: {message[:MAX_SHOWN]}"


def sentence(text: str) -> str:
    """A message as a sentence: capital first letter, one full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def page(
    request: Request, status: int, title: str, messages: Iterable[str], actor: Any = None
) -> HTMLResponse:
    """``error.html`` with ``status``: the title and each message as a sentence."""
    from intrathecal.web.pages import templates

    lines = [sentence(m) for m in messages if m.strip()]
    context = {
        "actor": actor,
        "csrf": actor.session.csrf_token if actor else "",
        "title": title,
        "message": lines[0] if len(lines) == 1 else "",
        "messages": lines if len(lines) > 1 else [],
    }
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


def status_page(request: Request, status: int) -> HTMLResponse:
    title, message = _STATUS.get(status, ("Error", "The request could not be completed."))
    return page(request, status, title, [message])


def not_found_message(what: str) -> str:
    """ "There is no program version 3 of patient 40." (``NotFoundError.what``, no "not found")."""
    return f"There is no {what}"
