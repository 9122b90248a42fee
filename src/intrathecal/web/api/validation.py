"""Request-validation errors in words a clinician reads, the same for the API (422, each
``{"field", "message"}``) and the pages (the message beside the field)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

DATE_HINT = "must be a date, e.g. 2026-01-05"
TIME_HINT = "must be a time with its zone, e.g. 2026-01-05T10:00:00Z"


def field_name(loc: Iterable[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def message(error: Mapping[str, Any]) -> str:
    """One pydantic error as a sentence ending that starts with the field's name."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return "is required"
    if kind == "string_too_long":
        return f"is too long: at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return f"is too short: at least {ctx.get('min_length')} characters"
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return "must be a whole number"
    if kind in ("float_parsing", "float_type"):
        return "must be a number"
    if kind.startswith("date") and "datetime" not in kind:
        return DATE_HINT
    if kind.startswith("datetime"):
        return TIME_HINT
    if kind in ("bool_parsing", "bool_type"):
        return "must be yes or no"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}"
    if kind == "literal_error":
        return f"must be one of: {str(ctx.get('expected', '')).replace(chr(39), '')}"
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


def field_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    return [{"field": field_name(e.get("loc", ())), "message": message(e)} for e in errors]
