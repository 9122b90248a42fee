"""Times a client may give, checked against the server's clock (which dates every record).

A client's "when it happened" is kept only within a small skew of now (default 5 minutes; set
``ITP_CLIENT_CLOCK_SKEW_S`` or ``app.state.client_clock_skew_s``): a refill typed in a minute
late is fine, one dated next year or last month is refused with the reason. A date (an adverse
event's day) may not be later than today anywhere on earth (UTC+14).
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta

from fastapi import Request

from intrathecal.units import InputError

DEFAULT_SKEW_S = 300.0
ENV = "ITP_CLIENT_CLOCK_SKEW_S"
LATEST_ZONE = timedelta(hours=14)  # the zone furthest ahead of UTC (Kiribati, UTC+14)


def skew(request: Request) -> timedelta:
    """The skew allowed between a client's time and the server's."""
    configured = getattr(request.app.state, "client_clock_skew_s", None)
    if configured is None:
        raw = os.environ.get(ENV, "").strip()
        try:
            configured = float(raw) if raw else DEFAULT_SKEW_S
        except ValueError:
            raise RuntimeError(f"{ENV} must be a number of seconds, not {raw!r}") from None
    if not 0 <= float(configured) <= 86_400:
        raise RuntimeError(f"{ENV} must be between 0 and 86400 s, not {configured}")
    return timedelta(seconds=float(configured))


def kept(claimed: datetime | None, now: datetime, allowed: timedelta, field: str) -> datetime:
    """``claimed`` when it is within ``allowed`` of ``now``; ``now`` when none was given."""
    if claimed is None:
        return now
    gap = (claimed - now).total_seconds()
    if abs(gap) > allowed.total_seconds():
        side = "after" if gap > 0 else "before"
        raise InputError(
            field,
            f"{claimed.isoformat()} is {_amount(abs(gap))} {side} the server's clock "
            f"({now.isoformat(timespec='seconds')}); a record is dated now, within "
            f"{allowed.total_seconds():g} s: leave it out to use the server's time",
        )
    return claimed


def not_after_today(day: date, now: datetime, field: str) -> date:
    """A day that has begun somewhere: refuses a date in the future."""
    latest = (now + LATEST_ZONE).date()
    if day > latest:
        raise InputError(field, f"{day.isoformat()} is in the future (today is {latest})")
    return day


def _amount(seconds: float) -> str:
    if seconds >= 86_400:
        return f"{seconds / 86_400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds:.0f} s"
