"""Patient-reported outcomes in the clinic database: staff entry, one-time patient links, reads.

Every visit (one patient, one procedure, one time point, one or more instruments) is checked by
the registry's own rules (``outcomes.check_new_response``: answers in range, no duplicate, no
follow-up dated on or before the baseline) before anything is stored; one bad answer stores
nothing. Rows are only ever inserted, each visit with its audit entry in the same transaction.

In the registry a patient is the pseudonymous id ``patient-<id>`` (never a name or an MRN);
exports replace even that with an HMAC pseudonym (``reports.deidentified_csv``).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intrathecal.outcomes import (
    BASELINE_INSTRUMENTS,
    FOLLOW_UP_INSTRUMENTS,
    INSTRUMENTS,
    InvalidOutcomesError,
    PatientCourse,
    Response,
    check_new_response,
    parse_timepoint,
    patient_course,
)
from intrathecal.outcomes.instruments import CLINICIAN_RATED, SPASTICITY_INSTRUMENTS, When
from intrathecal.outcomes.records import Answer
from intrathecal.outcomes.timepoints import Timepoint, procedure_key
from intrathecal.store import audit, outcomes_stats
from intrathecal.store.models import ClinicSetting, OutcomeLink, OutcomeResponse, Patient
from intrathecal.units import InputError

SUBJECT_PREFIX = "patient-"
LINK_DAYS_DEFAULT = 7
LINK_DAYS_MAX = 30
_NEW = "new response"  # the label check_new_response gives the response being checked


def subject_of(patient_id: int) -> str:
    """The registry's id for a patient: pseudonymous inside the clinic, no name, no MRN."""
    return f"{SUBJECT_PREFIX}{patient_id}"


def to_response(row: OutcomeResponse) -> Response:
    return Response(
        subject=subject_of(row.patient_id),
        procedure=row.procedure,
        timepoint=row.timepoint,
        days_from_baseline=row.days_from_baseline,
        instrument=row.instrument,
        answers=json.loads(row.answers_json),
        collected_on=row.collected_on,
        entered_by=row.entered_by,
    )


def patient_rows(session: Session, patient_id: int) -> list[OutcomeResponse]:
    return list(
        session.execute(
            select(OutcomeResponse)
            .where(OutcomeResponse.patient_id == patient_id)
            .order_by(
                OutcomeResponse.procedure,
                OutcomeResponse.days_from_baseline,
                OutcomeResponse.id,
            )
        ).scalars()
    )


def all_responses(session: Session) -> list[Response]:
    """Every stored response as registry records (for statistics and exports)."""
    rows = session.execute(select(OutcomeResponse).order_by(OutcomeResponse.id)).scalars()
    return [to_response(r) for r in rows]


def version(session: Session) -> tuple[int, int]:
    """(count, highest id): rows are only inserted, so this changes exactly when data does."""
    count, top = session.execute(
        select(func.count(OutcomeResponse.id), func.max(OutcomeResponse.id))
    ).one()
    return int(count), int(top or 0)


def course(session: Session, patient_id: int, procedure: str) -> PatientCourse | None:
    responses = [to_response(r) for r in patient_rows(session, patient_id)]
    if not any(r.procedure == procedure for r in responses):
        return None
    return patient_course(responses, subject_of(patient_id), procedure)


def procedures_of(rows: Sequence[OutcomeResponse]) -> list[str]:
    """The patient's procedures, intrathecal pump first (the clinic's main subject)."""
    found = sorted({r.procedure for r in rows})
    return sorted(found, key=lambda p: (p != "intrathecal-pump", p))


def pseudonym_key(session: Session) -> bytes:
    """The clinic's key for export pseudonyms (made by the migration that added the registry)."""
    row = session.get(ClinicSetting, "pseudonym_key")
    if row is None:  # a database migrated by hand without the key row: make one now
        row = ClinicSetting(name="pseudonym_key", value=secrets.token_hex(32))
        session.add(row)
        session.flush()
    return bytes.fromhex(row.value)


# --- entering a visit ------------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    """What a form or API call brings: answers per instrument for one time point.

    ``days_from_baseline`` None means: 0 at baseline, else counted from the stored baseline's
    date to ``collected_on``.
    """

    procedure: str
    timepoint: str
    collected_on: date
    answers: Mapping[str, Mapping[str, Answer]]  # instrument key -> item key -> answer
    days_from_baseline: int | None = None


def baseline_date(session: Session, patient_id: int, procedure: str) -> date | None:
    return session.execute(
        select(func.min(OutcomeResponse.collected_on)).where(
            OutcomeResponse.patient_id == patient_id,
            OutcomeResponse.procedure == procedure,
            OutcomeResponse.timepoint == "baseline",
        )
    ).scalar_one_or_none()


def instruments_at(timepoint: Timepoint, *, staff: bool = False) -> tuple[str, ...]:
    """What is asked at a time point; the staff form also offers the spasticity scales
    (baclofen patients; left blank = not asked)."""
    asked = BASELINE_INSTRUMENTS if timepoint.is_baseline else FOLLOW_UP_INSTRUMENTS
    return (*asked, *SPASTICITY_INSTRUMENTS) if staff else asked


def _field(error: InputError, instrument: str) -> InputError:
    """'new response.answers.pgic.change' -> 'answers.pgic.change'; a duplicate names the
    instrument."""
    # "(stored response 3)" numbers the check's own list; it means nothing to the user.
    message = re.sub(r" \(stored response \d+\)", "", error.message)
    if error.field == _NEW:
        return InputError(f"answers.{instrument}", message)
    return InputError(error.field.removeprefix(f"{_NEW}."), message)


def _head(
    session: Session, patient_id: int, visit: Visit, latest: date
) -> tuple[str, Timepoint, int]:
    """Procedure, time point and days from baseline, or every problem with them at once."""
    errors: list[InputError] = []
    procedure = timepoint = None
    try:
        procedure = procedure_key(visit.procedure)
    except InputError as exc:
        errors.append(exc)
    try:
        timepoint = parse_timepoint(visit.timepoint)
    except InputError as exc:
        errors.append(exc)
    if visit.collected_on > latest:
        errors.append(
            InputError("collected_on", f"{visit.collected_on.isoformat()} is in the future")
        )
    if not visit.answers:
        errors.append(InputError("answers", "no questionnaire answered"))
    for key in visit.answers:
        if key not in INSTRUMENTS:
            errors.append(
                InputError(
                    f"answers.{key}",
                    f"unknown instrument; known: {', '.join(sorted(INSTRUMENTS))}",
                )
            )
    days = visit.days_from_baseline
    if procedure is not None and timepoint is not None and days is None:
        if timepoint.is_baseline:
            days = 0
        else:
            base = baseline_date(session, patient_id, procedure)
            if base is None:
                errors.append(
                    InputError(
                        "days_from_baseline",
                        f"no baseline is recorded for {procedure}: enter the baseline first, "
                        "or give the days from baseline",
                    )
                )
            else:
                days = (visit.collected_on - base).days
    if errors:
        raise InvalidOutcomesError(errors)
    assert procedure is not None and timepoint is not None and days is not None
    return procedure, timepoint, days


def add_visit(
    session: Session,
    patient: Patient,
    visit: Visit,
    actor: str,
    now: datetime,
    *,
    entered_by: str = "staff",
    link: OutcomeLink | None = None,
) -> list[OutcomeResponse]:
    """Validate every instrument of the visit, then store them all and audit once.

    Raises ``InvalidOutcomesError`` naming every bad field (``answers.<instrument>.<item>``,
    ``collected_on``, ``days_from_baseline``...); nothing is stored then. The caller commits.
    """
    # A date is refused only when it has not begun anywhere yet (UTC+14): a clinic east of
    # Greenwich enters its own today while the UTC date is still yesterday.
    latest = (now + timedelta(hours=14)).date()
    procedure, timepoint, days = _head(session, patient.id, visit, latest)
    stored = [to_response(r) for r in patient_rows(session, patient.id)]
    errors: list[InputError] = []
    accepted: list[Response] = []
    for instrument, answers in visit.answers.items():
        new = Response(
            subject=subject_of(patient.id),
            procedure=procedure,
            timepoint=timepoint.label,
            days_from_baseline=days,
            instrument=instrument,
            answers=dict(answers),
            collected_on=visit.collected_on,
            entered_by=entered_by,
        )
        try:
            accepted.append(check_new_response([*stored, *accepted], new).response)
        except InvalidOutcomesError as exc:
            errors.extend(_field(e, instrument) for e in exc.errors)
    if errors:
        # A problem of the visit itself (its day, its time point) is found once per instrument.
        raise InvalidOutcomesError(list({(e.field, e.message): e for e in errors}.values()))
    rows = [
        OutcomeResponse(
            patient_id=patient.id,
            procedure=r.procedure,
            timepoint=r.timepoint,
            days_from_baseline=r.days_from_baseline,
            instrument=r.instrument,
            answers_json=json.dumps(dict(r.answers), sort_keys=True),
            collected_on=visit.collected_on,
            entered_by=entered_by,
            link_id=link.id if link else None,
            created_by=actor,
            created_at=now,
        )
        for r in accepted
    ]
    try:
        with session.begin_nested():
            session.add_all(rows)
            session.flush()
    except IntegrityError:
        raise InvalidOutcomesError(
            [
                InputError(
                    "answers",
                    f"duplicate response: someone stored {timepoint.label} answers for "
                    f"{procedure} at the same moment; reload the chart",
                )
            ]
        ) from None
    # The statistics' counts follow every stored visit in the same transaction.
    outcomes_stats.refresh(session, patient.id, procedure, [*stored, *accepted])
    audit.record(
        session,
        now,
        actor,
        "outcomes.add",
        f"patient:{patient.id}",
        {
            "ids": [r.id for r in rows],
            "procedure": procedure,
            "timepoint": timepoint.label,
            "instruments": [r.instrument for r in rows],
            "entered_by": entered_by,
        },
    )
    return rows


# --- one-time links for patients ------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewLink:
    link: OutcomeLink
    token: str  # shown once to the clinician; only its hash is stored


def create_link(
    session: Session,
    patient: Patient,
    procedure: str,
    timepoint: str,
    actor: str,
    now: datetime,
    *,
    instruments: Sequence[str] = (),
    valid_days: int = LINK_DAYS_DEFAULT,
    days_from_baseline: int | None = None,
) -> NewLink:
    """A link a patient opens once, before it expires, to answer ``instruments`` (default:
    every instrument asked at that time point). Refused when an instrument was answered there
    already or, for a follow-up, no baseline is recorded and no day count is given."""
    errors: list[InputError] = []
    key = tp = None
    try:
        key = procedure_key(procedure)
    except InputError as exc:
        errors.append(exc)
    try:
        tp = parse_timepoint(timepoint)
    except InputError as exc:
        errors.append(exc)
    if isinstance(valid_days, bool) or not 1 <= valid_days <= LINK_DAYS_MAX:
        errors.append(
            InputError(
                "valid_days", f"a link is valid for 1 to {LINK_DAYS_MAX} days, not {valid_days}"
            )
        )
    if errors:
        raise InvalidOutcomesError(errors)
    assert key is not None and tp is not None
    asked = tuple(instruments) or instruments_at(tp)
    for name in asked:
        if name not in INSTRUMENTS:
            errors.append(InputError("instruments", f"unknown instrument {name!r}"))
        elif name in CLINICIAN_RATED:
            errors.append(
                InputError("instruments", f"{name} is rated by a clinician, not by the patient")
            )
        elif tp.is_baseline and INSTRUMENTS[name].when is When.FOLLOW_UP:
            errors.append(
                InputError("instruments", f"{name} asks about change; it has no baseline")
            )
    done = set(
        session.execute(
            select(OutcomeResponse.instrument).where(
                OutcomeResponse.patient_id == patient.id,
                OutcomeResponse.procedure == key,
                OutcomeResponse.timepoint == tp.label,
            )
        ).scalars()
    )
    for name in sorted(done & set(asked)):
        errors.append(
            InputError("instruments", f"{name} at {tp.label} for {key} is answered already")
        )
    if (
        not tp.is_baseline
        and days_from_baseline is None
        and baseline_date(session, patient.id, key) is None
    ):
        errors.append(
            InputError(
                "days_from_baseline",
                f"no baseline is recorded for {key}: enter the baseline first, or give the days "
                "from baseline",
            )
        )
    if errors:
        raise InvalidOutcomesError(errors)
    token = secrets.token_urlsafe(32)
    link = OutcomeLink(
        token_hash=token_hash(token),
        csrf_token=secrets.token_urlsafe(32),
        patient_id=patient.id,
        procedure=key,
        timepoint=tp.label,
        days_from_baseline=days_from_baseline,
        instruments_json=json.dumps(list(asked)),
        created_by=actor,
        created_at=now,
        expires_at=now + timedelta(days=valid_days),
        used_at=None,
    )
    session.add(link)
    session.flush()
    audit.record(
        session,
        now,
        actor,
        "outcomes.link.create",
        f"patient:{patient.id}",
        {
            "link": link.id,
            "procedure": key,
            "timepoint": tp.label,
            "instruments": list(asked),
            "expires_at": link.expires_at.isoformat(),
        },
    )
    return NewLink(link, token)


class LinkRefusedError(Exception):
    """The link is unknown, used or expired; the page says so and shows nothing else."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "unknown", "used" or "expired"


def open_link(session: Session, token: str, now: datetime) -> OutcomeLink:
    link = session.execute(
        select(OutcomeLink).where(OutcomeLink.token_hash == token_hash(token))
    ).scalar_one_or_none()
    if link is None:
        raise LinkRefusedError("unknown")
    if link.used_at is not None:
        raise LinkRefusedError("used")
    if now >= link.expires_at:
        raise LinkRefusedError("expired")
    return link


def link_instruments(link: OutcomeLink) -> list[str]:
    return [str(k) for k in json.loads(link.instruments_json)]


def submit_link(
    session: Session,
    token: str,
    answers: Mapping[str, Mapping[str, Answer]],
    now: datetime,
) -> list[OutcomeResponse]:
    """Store the patient's answers and use the link up, in one transaction.

    The link is claimed first with an UPDATE that only matches while it is unused and
    unexpired, so of two submissions racing on one link exactly one stores anything. Bad
    answers raise ``InvalidOutcomesError``; the caller rolls back and the link stays usable.
    """
    link = open_link(session, token, now)
    claimed = session.execute(
        update(OutcomeLink)
        .where(
            OutcomeLink.id == link.id,
            OutcomeLink.used_at.is_(None),
            OutcomeLink.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkRefusedError("used")
    patient = session.get(Patient, link.patient_id)
    assert patient is not None  # a link's patient cannot be deleted (foreign key)
    asked = link_instruments(link)
    visit = Visit(
        procedure=link.procedure,
        timepoint=link.timepoint,
        collected_on=now.date(),
        answers={name: dict(answers.get(name, {})) for name in asked},
        days_from_baseline=link.days_from_baseline,
    )
    return add_visit(
        session, patient, visit, f"patient link {link.id}", now, entered_by="patient", link=link
    )
