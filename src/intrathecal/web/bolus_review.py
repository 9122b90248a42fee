"""The review of a clinician or bridge bolus between refills, shared by the page
(web/bolus_pages.py) and the API (web/api/boluses.py), so both doors give the same errors.

The limits themselves live in clinical/bolus_limits.py, where the pump's own door reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from intrathecal.clinical.bolus_limits import bolus_findings
from intrathecal.store import programs
from intrathecal.store.boluses import BolusRequest
from intrathecal.store.models import ProgramVersion
from intrathecal.therapy.errors import InvalidProgramError
from intrathecal.therapy.findings import Finding, Severity
from intrathecal.therapy.program import Program
from intrathecal.units import InputError, Kind, parse_positive

KIND_NAMES = {"clinician": "Clinician bolus", "bridge": "Bridge bolus"}
MAX_QUANTITY_CHARS = 40
MAX_REASON_CHARS = 500
KEY = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Reviewed:
    request: BolusRequest
    findings: tuple[Finding, ...]
    blocking: tuple[str, ...]  # hard findings and soft ones without a reason

    @property
    def has_hard(self) -> bool:
        return any(f.severity is Severity.HARD for f in self.findings)


def _text(raw: dict[str, str], field: str, limit: int) -> str:
    value = raw.get(field, "").strip()
    if len(value) > limit:
        raise InputError(field, f"at most {limit} characters, got {len(value)}")
    return value


def _program(running: ProgramVersion | None) -> Program:
    if running is None:
        raise InputError("program", "no program is in force: apply one before a bolus")
    try:
        return programs.parse(running.program_toml)
    except (InvalidProgramError, InputError) as exc:
        raise InputError("program", f"the program in force cannot be read: {exc}") from None


def review(raw: dict[str, str], running: ProgramVersion | None, actor: str) -> Reviewed:
    """Read the form and review the bolus; raises InputError naming the first bad field."""
    program = _program(running)
    assert running is not None
    kind = raw.get("kind", "")
    if kind not in KIND_NAMES:
        raise InputError("kind", "choose a clinician bolus or a bridge bolus")
    volume_text = _text(raw, "volume", MAX_QUANTITY_CHARS)
    duration_text = _text(raw, "duration", MAX_QUANTITY_CHARS)
    volume = parse_positive(volume_text, "volume", Kind.VOLUME)
    duration = parse_positive(duration_text, "duration", Kind.DURATION)
    reason = _text(raw, "reason", MAX_REASON_CHARS)
    key = raw.get("form_key", "")
    if not KEY.fullmatch(key):
        raise InputError("form_key", "this form is not one the clinic drew: reload the page")
    findings = bolus_findings(program, kind, volume, duration)
    acks: list[dict[str, str]] = []
    blocking = [f"{_field(f)}: {f.message}" for f in findings if f.severity is Severity.HARD]
    for f in findings:
        if f.severity is not Severity.SOFT:
            continue
        why = _text(raw, f"ack_{f.code}", MAX_REASON_CHARS)
        if why:
            acks.append({"code": f.code, "who": actor, "why": why})
        else:
            blocking.append(f"ack_{f.code}: {f.message}: give a reason to go on")
    doses = {i.drug.key: volume * i.concentration_mcg_per_ml for i in program.ingredients}
    request = BolusRequest(
        form_key=key,
        kind=kind,
        volume_ml=volume,
        duration_s=duration,
        doses_mcg=doses,
        reason=reason,
        acknowledgements=tuple(acks),
        program_version=running.version,
    )
    return Reviewed(request, findings, tuple(blocking))


def _field(finding: Finding) -> str:
    """The form's name of a limit's field (the pump's names are volume_ml and duration_s)."""
    return {"volume_ml": "volume", "duration_s": "duration"}.get(finding.field, finding.field)
