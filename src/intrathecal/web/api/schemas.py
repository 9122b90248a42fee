"""Request bodies of the JSON API. Quantities are text with their unit ("20 mL"), read with
``intrathecal.units``; a bare number or a wrong unit is refused (422) naming the field."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from intrathecal.clinical import journey_limits as limits
from intrathecal.store.models import (
    ADVERSE_EVENT_KINDS,
    APPOINTMENT_KINDS,
    EVALUATION_KINDS,
    IMPLANT_SETTINGS,
    INDICATIONS,
    PRIOR_TREATMENT_KINDS,
    TRIAL_DECISIONS,
    TRIAL_MODES,
)
from intrathecal.units import InputError, Kind, parse_non_negative, parse_positive


def _quantity(kind: Kind, positive: bool) -> BeforeValidator:
    def convert(value: object) -> float:
        try:
            if positive:
                return parse_positive(value, "value", kind)
            return parse_non_negative(value, "value", kind)
        except InputError as error:
            raise ValueError(error.message) from None

    return BeforeValidator(convert)


Volume = Annotated[float, _quantity(Kind.VOLUME, True)]
VolumeOrZero = Annotated[float, _quantity(Kind.VOLUME, False)]
Mass = Annotated[float, _quantity(Kind.MASS, True)]
Length = Annotated[float, _quantity(Kind.LENGTH, True)]
Concentration = Annotated[float, _quantity(Kind.CONCENTRATION, True)]


# The largest id a database row can have (ids are INTEGER columns: 2^31 - 1 on PostgreSQL, the
# smaller of the two backends): a larger number names no record, and handed to the database it
# overflows (a 500).
MAX_ID = 2**31 - 1

# Times a clinic records or asks about: far enough either way for any patient, near enough
# that adding a refill interval or a year never leaves the calendar (year 9999 overflowed).
FIRST_YEAR, LAST_YEAR = 1900, 2200


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("needs a UTC offset, e.g. 2026-01-05T10:00:00Z")
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must be between the years {FIRST_YEAR} and {LAST_YEAR}")
    return value


def _iso_text(value: object) -> object:
    """Times come as ISO 8601 text; a number ("0.0") is not read as seconds since 1970."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 time with its zone, e.g. 2026-01-05T10:00:00Z")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            "must be an ISO 8601 time with its zone, e.g. 2026-01-05T10:00:00Z"
        ) from None


# A time as ISO 8601 text with its zone, within the years above.
ClinicTime = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_aware)]


def _choice(options: tuple[str, ...]) -> BeforeValidator:
    def check(value: object) -> object:
        if value not in options:
            raise ValueError(f"must be one of: {', '.join(options)}")
        return value

    return BeforeValidator(check)


PASSWORD_RULE = (
    "15 to 128 characters, any characters; not a common or breached password, not containing "
    "the user name or the service's name (NIST SP 800-63B-4)"
)


def _no_nul(value: object, where: str) -> None:
    if isinstance(value, str) and "\x00" in value:
        # Raised inside pydantic, which answers for the whole body: the message names the field.
        raise ValueError(f"{where or 'body'} must not contain a NUL character")
    if isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key, where or "body")
            _no_nul(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _no_nul(item, f"{where}.{index}" if where else str(index))


class Strict(BaseModel):
    """A request body: no unknown key, and no NUL character in any text (no database stores
    one: PostgreSQL refuses it, a 500 before)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, data: object) -> object:
        _no_nul(data, "")
        return data


class SignInBody(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


# The journey's records. Types, units and choices are read here; every bound (dates against the
# server's clock, text lengths, plausible doses) is checked once, in the store
# (store/records.py ``add_record`` with clinical/journey_limits.py), for the API and the pages.
# A text's cap here only stops a huge body before it is read.
# A text in the store's bounds (journey_limits): 1 to TEXT_CHARS characters.
Text = Annotated[str, Field(max_length=limits.TEXT_CHARS)]


class PatientBody(Strict):
    mrn: str = Field(max_length=limits.MRN_CHARS, description="medical record number")
    name: str = Field(max_length=limits.NAME_CHARS)
    birth_date: date = Field(description="from 1900 to today (the server's clock)")
    sex: Annotated[str, _choice(("female", "male", "other"))]
    opioid_status: Literal["naive", "tolerant"] | None = Field(
        default=None,
        description="selects a drug's starting range in the program review where the library "
        "has both; leave out when not known (the stricter opioid-naive range is then used)",
    )


class OpioidStatusBody(Strict):
    opioid_status: Literal["naive", "tolerant"]
    reason: str = Field(min_length=1, max_length=500, description="why the status changes")


class IndicationBody(Strict):
    condition: Annotated[str, _choice(INDICATIONS)]
    detail: Text = ""


class PriorTreatmentBody(Strict):
    kind: Annotated[str, _choice(PRIOR_TREATMENT_KINDS)] = "oral medication"
    medication: str = Field(max_length=limits.LABEL_CHARS, description="or the method tried")
    dose: str = Field(default="", max_length=60, description="as prescribed, with unit")
    outcome: str = Field(max_length=limits.NAME_CHARS)


class EvaluationBody(Strict):
    kind: Annotated[str, _choice(EVALUATION_KINDS)]
    performed_on: date
    result: Text


class TrialBody(Strict):
    performed_on: date
    drug: str = Field(max_length=40, description="drug key from the library")
    dose: Mass = Field(
        description="e.g. \"50 mcg\"; a continuous trial's dose over 24 h; at most the drug's "
        "hard per-bolus (single bolus) or daily-dose (continuous) limit"
    )
    mode: Annotated[str, _choice(TRIAL_MODES)]
    pain_before: int | None = Field(default=None, description="pain trial: 0-10")
    pain_after: int | None = Field(default=None, description="pain trial: 0-10")
    ashworth_before: str | None = Field(
        default=None, max_length=2, description="spasticity (baclofen) trial: 0, 1, 1+, 2, 3, 4"
    )
    ashworth_after: str | None = Field(default=None, max_length=2)
    spasms_before: int | None = Field(
        default=None, description="spasticity trial: Penn spasm frequency 0-4"
    )
    spasms_after: int | None = None
    side_effects: Text = ""
    decision: Annotated[str, _choice(TRIAL_DECISIONS)]


class ImplantBody(Strict):
    device: str = Field(max_length=40, description="device key from the library")
    serial: str = Field(max_length=40)
    catheter_length: Length = Field(description='e.g. "70 cm"')
    tip_level: str = Field(max_length=10, description='vertebral level, e.g. "T10"')
    setting: Annotated[str, _choice(IMPLANT_SETTINGS)]
    implanted_at: ClinicTime


class AcknowledgementBody(Strict):
    code: str = Field(min_length=1)
    why: str = Field(min_length=1, description="reason, recorded with your name")


class ReviewBody(Strict):
    program_toml: str = Field(min_length=1)
    acknowledgements: list[AcknowledgementBody] = []
    change_profile: str | None = None
    next_refill_at: ClinicTime | None = None


class ProgramBody(ReviewBody):
    reason: str = Field(min_length=1)
    replaces_version: int | None = Field(
        le=MAX_ID, description="the version you opened and changed; null for a first program"
    )


class ApplyBody(Strict):
    readback_toml: str = Field(default="", description="what the pump read back, if anything")
    via: Literal["typed in", "virtual pump"] = "typed in"
    send_to_pump: bool = Field(
        default=False,
        description="the server sends the version to the patient's pump over its pump link, "
        "journalled, and records what the pump read back (via and readback_toml are ignored)",
    )


class RefillPlanBody(Strict):
    fill: Volume = Field(description='volume put in, e.g. "20 mL"')
    withdrawn: VolumeOrZero | None = Field(
        default=None, description='residual withdrawn, e.g. "3.2 mL"; null on a first fill'
    )
    demand_boluses: int = Field(default=0, ge=0, le=1000)
    program_version: int | None = Field(default=None, ge=1, le=MAX_ID)
    stocks: dict[str, Concentration] = Field(
        default_factory=dict, description='stock solutions, e.g. {"morphine": "25 mg/mL"}'
    )
    overage: VolumeOrZero = 0.0
    performed_at: ClinicTime | None = Field(
        default=None,
        description="when the refill was done; kept only within the allowed skew of the "
        "server's clock (default 5 minutes), else 422; leave out to use the server's time",
    )
    notes: str = ""

    @field_validator("performed_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return _aware(value) if value is not None else None


class LotIn(Strict):
    drug: str = Field(min_length=1, max_length=64, description="a drug of the program filled")
    lot: str = Field(min_length=1, max_length=40, description="the lot number on the vial")
    expiry: date = Field(description="expiry date, not before the fill's day (else 422)")


class RefillBody(RefillPlanBody):
    follows_refill_id: int | None = Field(
        ge=1,
        le=2**31 - 1,
        description="id of the patient's last refill (not voided) that you reconciled "
        "against; null for a first refill; 409 if another was saved since",
    )
    investigate_reason: str = Field(
        default="", max_length=2000, description="needed when the reconciliation says INVESTIGATE"
    )
    cosigner: str = Field(
        default="",
        max_length=64,
        description="co-signing physician's user name over INVESTIGATE (empty: yourself, if a "
        "physician)",
    )
    cosigner_password: str = Field(
        default="", max_length=200, description="the co-signing physician's password"
    )
    lots: list[LotIn] = Field(default_factory=list, max_length=8)
    compounded_by: str = Field(default="", max_length=120, description="full name")
    older_version_reason: str = Field(
        default="",
        max_length=2000,
        description="needed when program_version is older than the version in force",
    )


class VoidBody(Strict):
    reason: str = Field(min_length=1, max_length=2000, description="why the refill is wrong")


class RecordVoidBody(Strict):
    reason: str = Field(min_length=1, max_length=500, description="why the record is wrong")


class RecipeBody(Strict):
    concentrations: dict[str, Concentration] = Field(min_length=1)
    stocks: dict[str, Concentration] = Field(min_length=1)
    fill: Volume
    overage: VolumeOrZero = 0.0


class AlarmBody(Strict):
    kind: str = Field(max_length=40)
    message: Text
    source: Literal["pump", "clinic"] = "clinic"


class AlarmActionBody(Strict):
    note: str = Field(default="", max_length=500, description="what was done, if anything")


class AppointmentBody(Strict):
    kind: Annotated[str, _choice(APPOINTMENT_KINDS)]
    starts_at: ClinicTime = Field(description="up to 2 years ahead, or up to 1 year late")
    note: Text = ""


class AdverseEventBody(Strict):
    kind: Annotated[str, _choice(ADVERSE_EVENT_KINDS)]
    occurred_on: date
    serious: bool
    description: Text
    action: Text = ""


class UserBody(Strict):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[a-z0-9._-]+$")
    full_name: str = Field(min_length=1, max_length=200)
    role: Literal["physician", "nurse", "pharmacist", "viewer", "admin"]
    password: str = Field(min_length=1, max_length=1000, description=PASSWORD_RULE)


class PasswordBody(Strict):
    password: str = Field(min_length=1, max_length=1000, description=PASSWORD_RULE)


class RoleBody(Strict):
    role: Literal["physician", "nurse", "pharmacist", "viewer", "admin"]


# --- answers (response models) -----------------------------------------------------------------


class Out(BaseModel):
    """An answer: the keys listed, and possibly more (a client ignores what it does not know)."""

    model_config = ConfigDict(extra="allow")


class ErrorItem(BaseModel):
    field: str
    message: str


class ErrorAnswer(Out):
    ok: Literal[False]
    errors: list[ErrorItem]


class OkAnswer(Out):
    ok: Literal[True]


class UserOut(Out):
    id: int
    username: str
    full_name: str
    role: str
    active: bool


class UserAnswer(OkAnswer):
    user: UserOut


class UsersAnswer(OkAnswer):
    users: list[UserOut]


class SignInAnswer(UserAnswer):
    token: str
    csrf_token: str


class SessionOut(Out):
    username: str
    role: str
    created_at: str
    expires_at: str


class SessionsAnswer(OkAnswer):
    sessions: list[SessionOut]


class EndedAnswer(UserAnswer):
    sessions_ended: int


# Records as the API writes them (web/api/serialize.py): the keys every client may rely on;
# quantities keep their unit in the key, times are ISO 8601 in UTC ("…Z").
Record = dict[str, Any]


class PatientOut(Out):
    id: int
    mrn: str
    name: str
    birth_date: str | None
    sex: str
    stage: str
    next_refill_due_at: str | None
    opioid_status: str | None = None  # in a patient's own answers, not in the worklists


class ProgramVersionOut(Out):
    id: int
    version: int
    program_toml: str
    reason: str
    signed_by: str
    signed_at: str | None


class VoidOut(Out):
    by: str
    at: str | None
    reason: str


class RefillOut(Out):
    id: int
    performed_at: str | None
    performed_by: str
    fill_ml: float
    withdrawn_ml: float | None
    investigate: bool | None
    next_due_at: str | None
    follows_refill_id: int | None = None
    recorded_at: str | None = None
    investigate_reason: str | None = None
    cosigned_by: str | None = None
    cosigned_at: str | None = None
    lots: list[dict[str, str]] = []
    compounded_by: str | None = None
    voided: VoidOut | None = None


class AuditEntryOut(Out):
    seq: int
    actor: str
    action: str
    target: str


class PageAnswer(OkAnswer):
    items: list[Record]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class PatientsAnswer(PageAnswer):
    items: list[PatientOut]  # type: ignore[assignment]


class RefillsAnswer(PageAnswer):
    items: list[RefillOut]  # type: ignore[assignment]


class AuditAnswer(PageAnswer):
    items: list[AuditEntryOut]  # type: ignore[assignment]


class DashboardAnswer(OkAnswer):
    counts: dict[str, int]
    due_this_week: list[PatientOut]
    overdue: list[PatientOut]
    predicted_low_reservoir_alarms: list[PatientOut]
    open_alarms: list[Record]
    devices_nearing_replacement: list[Record]
    disclaimer: str


class CalendarAnswer(OkAnswer):
    from_: str = Field(alias="from")
    days: int
    refills_due: list[PatientOut]


class PatientAnswer(OkAnswer):
    patient: PatientOut


class ChartAnswer(PatientAnswer):
    indications: list[Record]
    prior_treatments: list[Record]
    evaluations: list[Record]
    trials: list[Record]
    implants: list[Record]
    program_in_force: ProgramVersionOut | None
    program_versions: list[ProgramVersionOut]
    refills: list[RefillOut]
    refill_count: int
    alarms: list[Record]
    appointments: list[Record]
    adverse_events: list[Record]
    disclaimer: str


class IndicationAnswer(OkAnswer):
    indication: Record


class PriorTreatmentAnswer(OkAnswer):
    prior_treatment: Record


class EvaluationAnswer(OkAnswer):
    evaluation: Record


class TrialAnswer(OkAnswer):
    trial: Record


class ImplantAnswer(OkAnswer):
    implant: Record


class ProgramsAnswer(OkAnswer):
    in_force_version: int | None
    versions: list[ProgramVersionOut]


class ReviewAnswer(OkAnswer):
    allowed: bool
    findings: list[Record]
    unacknowledged: list[str]
    acknowledgements: list[Record]
    comparison: list[Record]
    daily_volume_ml: float
    daily_doses_mcg: dict[str, float]
    worst_case_daily_volume_ml: float
    notices: list[Record]
    disclaimer: str


class ProgramVersionAnswer(OkAnswer):
    program_version: ProgramVersionOut


class ApplicationAnswer(OkAnswer):
    application: Record


class RefillPlanAnswer(OkAnswer):
    program_version: int
    reconciliation: Record | None
    recipe: Record | None
    bridge: Record | None
    next_due_at: str | None
    low_reservoir_alarm_at: str | None
    limited_by: str
    disclaimer: str


class RefillAnswer(OkAnswer):
    refill: RefillOut


class RecipeAnswer(OkAnswer):
    findings: list[Record]
    disclaimer: str


class RecordVoidAnswer(OkAnswer):
    kind: str  # "indication", "prior-treatment", ... (store/records.py VOIDABLE)
    record: Record  # the record as the chart shows it, with its "voided"
    voided: VoidOut


class AlarmAnswer(OkAnswer):
    alarm: Record


class AlarmHistoryAnswer(AlarmAnswer):
    history: list[Record]  # its acknowledgements and clearance, in order


class AppointmentAnswer(OkAnswer):
    appointment: Record


class AdverseEventAnswer(OkAnswer):
    adverse_event: Record


class VerifyAnswer(OkAnswer):
    intact: bool
    entries: int
    first_bad_seq: int | None
    message: str | None


class InstrumentsAnswer(OkAnswer):
    instruments: list[Record]
    disclaimer: str


class StatisticsAnswer(OkAnswer):
    as_of: str
    period: str
    procedures: list[Record]
    disclaimer: str


class PatientOutcomesAnswer(OkAnswer):
    subject: str
    responses: list[Record]
    courses: list[Record]
    disclaimer: str


class OutcomesAddedAnswer(OkAnswer):
    responses: list[Record]


class LinkOut(Out):
    id: int
    url: str
    token: str
    procedure: str
    timepoint: str
    instruments: list[str]
    expires_at: str


class LinkAnswer(OkAnswer):
    link: LinkOut
