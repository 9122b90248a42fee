"""CLI options that carry a unit: parsed at the boundary, named in every error."""

from __future__ import annotations

from intrathecal.units import InputError, Kind, parse, parse_positive


def volume(text: str, option: str) -> float:
    return parse_positive(text, option, Kind.VOLUME)


def non_negative_volume(text: str, option: str) -> float:
    value = parse(text, option, Kind.VOLUME)
    if value < 0:
        raise InputError(option, f"must not be negative, got {text!r}")
    return value


def duration_days(text: str, option: str, *, allow_zero: bool = False) -> float:
    seconds = parse(text, option, Kind.DURATION)
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise InputError(
            option, f"must be {'zero or ' if allow_zero else ''}positive, got {text!r}"
        )
    return seconds / 86_400
