"""Small builders of valid responses for hand-worked outcome scenarios."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from intrathecal.outcomes import Response

PROCEDURE = "facet-joint-injection"
DAY0 = date(2025, 1, 6)


def promis(quality_of_life: int = 3, function: int = 3, pain: int = 5) -> dict[str, int]:
    """PROMIS Global-10 answers: every 5-point item 3 except Global02 and Global06."""
    answers = {key: 3 for key in ("global01", "global03", "global04", "global05", "global09r")}
    answers |= {"global08r": 3, "global10r": 3, "global02": quality_of_life}
    answers |= {"global06": function, "global07r": pain}
    return answers


@dataclass(frozen=True)
class FollowUp:
    pain: int
    pgic: int
    percent: int
    quality_of_life: int
    function: int
    side_effects: tuple[str, ...] = ()


def patient(
    subject: str,
    pain: int,
    quality_of_life: int = 3,
    function: int = 3,
    follow_up: FollowUp | None = None,
    *,
    start: date = DAY0,
    procedure: str = PROCEDURE,
    timepoint: str = "3 months",
    days: int = 91,
) -> list[Response]:
    """A baseline (NRS + PROMIS) and, if given, a follow-up with every instrument."""

    def r(tp: str, d: int, instrument: str, answers: Mapping[str, int | str]) -> Response:
        return Response(subject, procedure, tp, d, instrument, answers, start + timedelta(days=d))

    out = [
        r("baseline", 0, "nrs-pain", {"pain": pain}),
        r("baseline", 0, "promis-global-10", promis(quality_of_life, function, pain)),
    ]
    if follow_up is not None:
        f = follow_up
        effects: dict[str, int | str] = {
            key: int(key in f.side_effects)
            for key in (
                "nausea",
                "itching",
                "constipation",
                "urinary",
                "swelling",
                "drowsiness",
                "headache",
                "numbness_weakness",
                "wound",
                "fever",
            )
        }
        out += [
            r(timepoint, days, "nrs-pain", {"pain": f.pain}),
            r(timepoint, days, "pgic", {"change": f.pgic}),
            r(timepoint, days, "percent-improvement", {"percent": f.percent}),
            r(timepoint, days, "promis-global-10", promis(f.quality_of_life, f.function, f.pain)),
            r(timepoint, days, "side-effects", effects),
        ]
    return out
