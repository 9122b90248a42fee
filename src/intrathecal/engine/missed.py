"""Delivery that did not happen: the volume a program would have given over an interruption
(an MRI, a stall, a closed valve), and when the reservoir reaches a level once delivery resumes.

Pure and exact, like the rest of the engine: both answers come in closed form from the program's
rate profile (``Delivery.volume_between`` and ``Delivery.time_at_volume``).
"""

from __future__ import annotations

from dataclasses import dataclass

from intrathecal.engine.delivery import Delivery
from intrathecal.engine.profile import RateProfile


@dataclass(frozen=True)
class Interruption:
    start_s: float
    end_s: float
    missed_ml: float  # what the program would have delivered over [start_s, end_s]

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def interruption(profile: RateProfile, start_s: float, end_s: float) -> Interruption:
    """The volume the basal profile would have delivered over [start_s, end_s]."""
    if end_s < start_s:
        raise ValueError("an interruption must not end before it starts")
    return Interruption(start_s, end_s, Delivery(profile).volume_between(start_s, end_s))


def time_at_volume_after(profile: RateProfile, resume_s: float, volume_ml: float) -> float:
    """When ``volume_ml`` will have been delivered once delivery resumes at ``resume_s`` (the
    reservoir's low and empty instants move later by the interruption)."""
    return Delivery(profile).time_at_volume(resume_s, volume_ml)
