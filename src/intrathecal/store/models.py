"""The clinic's records as SQLAlchemy 2 typed models.

Journey of a patient: indications and prior treatments, evaluations, an intrathecal trial, an
implant, program versions, refills every few weeks, alarms, appointments, adverse events, and a
replacement implant when the battery runs out.

Append-only (design.md, "Storage"): ``program_versions``, ``program_applications``, ``refills``,
``refill_voids``, ``record_voids``, ``audit_entries`` and the other clinical records (the
journey's, alarm events, clinic boluses, MRI scans and confirmations, outcome answers) are only
ever inserted; a wrong refill is voided by a ``refill_voids`` row (who, when, why), any other
wrong clinical record by a ``record_voids`` row, never edited or deleted. A new program version
names the version it replaces; a unique (patient, version) pair lets only one of two concurrent
writers win. The few columns that are updated (a patient's ``stage`` and ``next_refill_due_at``,
an alarm's clearance, a pump journal entry's status, ``audit_head``) are derived status or
bookkeeping, each change written to the audit log; the clinical truth stays in the append-only
rows. The database refuses UPDATE and DELETE on those rows, and lets an alarm be cleared once and
an open journal entry move on (migration 0015; the audit log's since 0006).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from intrathecal.store.types import UTCDateTime


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012 (SQLAlchemy's hook)


class Role(StrEnum):
    PHYSICIAN = "physician"
    NURSE = "nurse"
    PHARMACIST = "pharmacist"
    VIEWER = "viewer"
    ADMIN = "admin"


# A patient's opioid status as the review reads it (issue 9); None: not stated.
OPIOID_STATUSES = ("naive", "tolerant")


class Stage(StrEnum):
    """Where a patient is on the journey, in order."""

    REFERRED = "referred"
    EVALUATION = "evaluation"
    TRIAL = "trial"
    IMPLANTED = "implanted"
    NOT_A_CANDIDATE = "not a candidate"


INDICATIONS = (
    "cancer pain",
    "failed back surgery syndrome",
    "complex regional pain syndrome",
    "phantom limb pain",
    "post-herpetic neuralgia",
    "peripheral neuropathy",
    "nociceptive pain",
    "spasticity after stroke",
    "spasticity after brain injury",
    "spasticity after spinal cord injury",
    "spasticity in cerebral palsy",
    "spasticity in multiple sclerosis",
    "other",
)
SEXES = ("female", "male", "other")
# What was tried before a pump (0010): oral (or other systemic) medication with its dose, or
# another method (physiotherapy, injections, a spinal cord stimulator, surgery).
PRIOR_TREATMENT_KINDS = ("oral medication", "other method")
EVALUATION_KINDS = ("EMG/nerve testing", "MRI", "X-ray", "bone scan", "diagnostic injection")
TRIAL_MODES = ("single bolus", "continuous")
TRIAL_DECISIONS = ("implant", "no implant", "repeat trial")
IMPLANT_SETTINGS = ("inpatient", "outpatient")
ADVERSE_EVENT_KINDS = (
    "infection",
    "CSF leak",
    "granuloma",
    "withdrawal",
    "overdose",
    "pocket fill",
    "device failure",
    "other",
)
APPOINTMENT_KINDS = ("evaluation", "trial", "implant", "refill", "program review", "follow-up")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class SessionToken(Base):
    """A signed-in browser or API client. Only the SHA-256 of the token is kept."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class SignInFailure(Base):
    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_username_at", "username", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime]


class Patient(Base):
    __tablename__ = "patients"
    # The dashboard's worklists: implanted patients by due date or predicted alarm (0003).
    __table_args__ = (
        Index("ix_patients_stage_next_refill_due_at", "stage", "next_refill_due_at"),
        Index("ix_patients_stage_low_alarm_at", "stage", "low_alarm_at"),
        # Name search (0011): a trigram index on PostgreSQL; on SQLite the FTS5 table
        # patients_fts (store/patient_search.py), which the ORM does not map.
        Index(
            "ix_patients_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mrn: Mapped[str] = mapped_column(String(32), unique=True)  # medical record number
    name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    # Derived status, kept up to date in the same transaction as the record that changes it.
    stage: Mapped[str] = mapped_column(String(20), default=Stage.REFERRED.value, index=True)
    next_refill_due_at: Mapped[datetime | None] = mapped_column(index=True)
    low_alarm_at: Mapped[datetime | None] = mapped_column(index=True)
    # "naive", "tolerant" or None (not stated: the review uses the stricter naive range) (0007).
    opioid_status: Mapped[str | None] = mapped_column(String(10), default=None)

    indications: Mapped[list[Indication]] = relationship(order_by="Indication.id")


class Indication(Base):
    __tablename__ = "indications"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    condition: Mapped[str] = mapped_column(String(60))
    detail: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime]


class PriorTreatment(Base):
    """Oral or other medication tried before intrathecal therapy, and why it failed."""

    __tablename__ = "prior_treatments"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(
        String(20), default="oral medication", server_default="oral medication"
    )
    medication: Mapped[str] = mapped_column(String(100))  # or the method
    dose: Mapped[str] = mapped_column(String(60))  # as prescribed, with its unit ("" for a method)
    outcome: Mapped[str] = mapped_column(String(200))  # e.g. "inadequate relief", "sedation"
    recorded_at: Mapped[datetime]


class Evaluation(Base):
    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    performed_on: Mapped[date] = mapped_column(Date)
    result: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]


class Trial(Base):
    """An intrathecal trial: a test dose before deciding on an implant."""

    __tablename__ = "trials"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    performed_on: Mapped[date] = mapped_column(Date)
    drug: Mapped[str] = mapped_column(String(40))
    dose_mcg: Mapped[float] = mapped_column(Float)
    mode: Mapped[str] = mapped_column(String(20))
    # The response, in the terms of the indication (clinical/journey_limits.py, 0010): pain on
    # the numeric rating scale 0..10, or spasticity (baclofen) as the Modified Ashworth grade
    # and the Penn spasm frequency score; the other pair is None.
    pain_before: Mapped[int | None] = mapped_column(Integer)
    pain_after: Mapped[int | None] = mapped_column(Integer)
    ashworth_before: Mapped[str | None] = mapped_column(String(2), default=None)
    ashworth_after: Mapped[str | None] = mapped_column(String(2), default=None)
    spasms_before: Mapped[int | None] = mapped_column(Integer, default=None)
    spasms_after: Mapped[int | None] = mapped_column(Integer, default=None)
    side_effects: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str] = mapped_column(String(20))
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]

    @property
    def response(self) -> str:
        """The response in the terms it was measured in, for a person to read."""
        if self.ashworth_before is not None:
            return (
                f"Ashworth {self.ashworth_before}→{self.ashworth_after}, "
                f"spasms {self.spasms_before}→{self.spasms_after} (Penn)"
            )
        return f"pain {self.pain_before}→{self.pain_after} ({self.relief_percent:.0f}% relief)"

    @property
    def relief_percent(self) -> float:
        if not self.pain_before or self.pain_after is None:
            return 0.0
        return (self.pain_before - self.pain_after) / self.pain_before * 100.0


class Implant(Base):
    __tablename__ = "implants"
    # With the id, the dashboard counts the devices to replace from the index alone (0016).
    __table_args__ = (Index("ix_implants_replace_by_id", "replace_by", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    device_key: Mapped[str] = mapped_column(String(40))
    serial: Mapped[str] = mapped_column(String(40), unique=True)
    reservoir_ml: Mapped[float] = mapped_column(Float)
    catheter_length_cm: Mapped[float] = mapped_column(Float)
    catheter_volume_ml: Mapped[float] = mapped_column(Float)
    tip_level: Mapped[str] = mapped_column(String(10))  # vertebral level, e.g. "T10"
    setting: Mapped[str] = mapped_column(String(12))
    implanted_at: Mapped[datetime]
    # Service life end (battery) from the device's library value, for the replacement list.
    replace_by: Mapped[datetime]
    replaces_implant_id: Mapped[int | None] = mapped_column(ForeignKey("implants.id"), index=True)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]


class ProgramVersion(Base):
    """One version of a patient's program: the program TOML as prescribed, never changed.

    ``version`` counts from 1 per patient; ``replaces_version`` is the version the prescriber
    saw and changed (None only for the first). The unique pair makes a second writer who changed
    the same version fail instead of silently overwriting the first.
    """

    __tablename__ = "program_versions"
    __table_args__ = (UniqueConstraint("patient_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    implant_id: Mapped[int] = mapped_column(ForeignKey("implants.id"))
    version: Mapped[int] = mapped_column(Integer)
    replaces_version: Mapped[int | None] = mapped_column(Integer)
    program_toml: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    findings_json: Mapped[str] = mapped_column(Text)  # the review's findings when signed
    acknowledgements_json: Mapped[str] = mapped_column(Text)  # who acknowledged what, why
    daily_doses_json: Mapped[str] = mapped_column(Text)  # mean mcg/day per drug, for charts
    signed_by: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime]
    # The refill context the review used, from the records (0004): the fill, the scheduled
    # refill and where it came from, the change profile and where it came from.
    review_context_json: Mapped[str] = mapped_column(Text, default="{}")


class ProgramApplication(Base):
    """A signed program version sent to the pump, with what the pump read back."""

    __tablename__ = "program_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    program_version_id: Mapped[int] = mapped_column(ForeignKey("program_versions.id"))
    applied_by: Mapped[str] = mapped_column(String(64))
    applied_at: Mapped[datetime]
    via: Mapped[str] = mapped_column(String(20))  # "virtual pump", "typed in"
    readback_matches: Mapped[bool] = mapped_column(Boolean)
    readback: Mapped[str] = mapped_column(Text, default="")


class ClinicBolus(Base):
    """A clinician or bridge bolus given outside a refill (web/bolus_pages.py): append-only.

    ``form_key`` is the key of the form that asked for it, and the pump journal's token when it
    went through a pump link: a form posted twice finds its bolus and sends nothing.
    """

    __tablename__ = "clinic_boluses"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_key: Mapped[str] = mapped_column(String(32), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    program_version_id: Mapped[int] = mapped_column(ForeignKey("program_versions.id"))
    kind: Mapped[str] = mapped_column(String(10))  # "clinician" or "bridge"
    volume_ml: Mapped[float] = mapped_column(Float)
    duration_s: Mapped[float] = mapped_column(Float)
    doses_json: Mapped[str] = mapped_column(Text)  # mcg of each drug in the volume
    reason: Mapped[str] = mapped_column(Text)
    acknowledgements_json: Mapped[str] = mapped_column(Text, default="[]")  # soft: who, why
    given_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]  # the server's clock
    started_at: Mapped[datetime]  # the pump's clock when it answered; else the server's
    ends_at: Mapped[datetime]
    via: Mapped[str] = mapped_column(String(20))  # "virtual pump", "typed in"
    readback: Mapped[str] = mapped_column(Text, default="")  # what the pump answered


class PumpJournalEntry(Base):
    """An intent to change a pump, committed before anything is sent (store/pump_journal.py).

    Bookkeeping, not a clinical record: ``status`` moves intent -> sent -> confirmed ->
    recorded | not_done, each move audited; the refill or application it ends in is append-only.
    """

    __tablename__ = "pump_journal"
    __table_args__ = (Index("ix_pump_journal_serial_status", "serial", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)  # names the pump requests
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    serial: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(10))  # "refill" or "program"
    status: Mapped[str] = mapped_column(String(12))
    payload_json: Mapped[str] = mapped_column(Text)  # what the record will hold
    since_seq: Mapped[int] = mapped_column(Integer)  # the pump's last event before sending
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(Text, default="")  # how it ended, in words
    by_recovery: Mapped[bool] = mapped_column(Boolean, default=False)
    refill_id: Mapped[int | None] = mapped_column(ForeignKey("refills.id"))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("program_applications.id"))


class Refill(Base):
    """One refill visit: reconciliation of the old fill, the new fill and the next due date."""

    __tablename__ = "refills"
    __table_args__ = (Index("ix_refills_patient_performed", "patient_id", "performed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    implant_id: Mapped[int] = mapped_column(ForeignKey("implants.id"))
    program_version_id: Mapped[int] = mapped_column(ForeignKey("program_versions.id"))
    performed_at: Mapped[datetime]
    performed_by: Mapped[str] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(20))  # "virtual pump", "typed in"
    # Reconciliation of the previous fill (all None on the first fill after implant).
    previous_fill_ml: Mapped[float | None] = mapped_column(Float)
    expected_residual_ml: Mapped[float | None] = mapped_column(Float)
    withdrawn_ml: Mapped[float | None] = mapped_column(Float)
    discrepancy_ml: Mapped[float | None] = mapped_column(Float)
    investigate: Mapped[bool] = mapped_column(Boolean, default=False)
    reconciliation_json: Mapped[str] = mapped_column(Text, default="{}")
    # The new fill.
    fill_ml: Mapped[float] = mapped_column(Float)
    concentrations_json: Mapped[str] = mapped_column(Text)  # {"morphine": mcg/mL, ...}
    recipe_json: Mapped[str] = mapped_column(Text, default="{}")
    bridge_json: Mapped[str] = mapped_column(Text, default="{}")
    next_due_at: Mapped[datetime]
    low_alarm_at: Mapped[datetime]
    limited_by: Mapped[str] = mapped_column(String(20))
    notes: Mapped[str] = mapped_column(Text, default="")
    # 0004: the refill it follows (the last one not voided; None only for a patient's first),
    # when the server recorded it, and the co-signature that saving over INVESTIGATE needs.
    follows_refill_id: Mapped[int | None] = mapped_column(ForeignKey("refills.id"))
    recorded_at: Mapped[datetime | None]
    investigate_reason: Mapped[str | None] = mapped_column(Text)
    cosigned_by: Mapped[str | None] = mapped_column(String(64))
    cosigned_at: Mapped[datetime | None]
    # 0009: each drug's lot and expiry ([{"drug", "lot", "expiry": "YYYY-MM-DD"}]) and the full
    # name of who compounded, for the printable record; none on refills recorded before.
    drug_lots_json: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    compounded_by: Mapped[str | None] = mapped_column(String(120))


class RefillVoid(Base):
    """A correction: the refill it names was wrong and no longer counts (the row stays)."""

    __tablename__ = "refill_voids"

    id: Mapped[int] = mapped_column(primary_key=True)
    refill_id: Mapped[int] = mapped_column(ForeignKey("refills.id"), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    voided_by: Mapped[str] = mapped_column(String(64))
    voided_at: Mapped[datetime]


class RecordVoid(Base):
    """A correction of any other clinical record (indication, prior treatment, evaluation, trial,
    implant, alarm, appointment, adverse event): the record it names was wrong and no longer
    counts; the row stays (0008). ``kind`` names the table (store/records.py ``VOIDABLE``); the
    unique pair allows one void per record and is the index every "not voided" filter reads."""

    __tablename__ = "record_voids"
    __table_args__ = (UniqueConstraint("kind", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[int] = mapped_column(Integer)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    voided_by: Mapped[str] = mapped_column(String(64))
    voided_at: Mapped[datetime]


class IdempotencyKey(Base):
    """The first answer to an API write sent with an ``Idempotency-Key`` header (0004).

    Written in the same transaction as the record it answers for, so a key exists exactly when
    its write was committed; the unique triple lets one of two racing requests through.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("actor", "route", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(64))
    route: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    body_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    response_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Alarm(Base):
    __tablename__ = "alarms"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))  # "pump", "predicted", "clinic"
    raised_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None] = mapped_column(index=True)
    cleared_by: Mapped[str | None] = mapped_column(String(64))


class AlarmEvent(Base):
    """Someone acknowledged or cleared an alarm (0010): who, when (the server's clock) and a
    note. Append-only: the alarm's history is these rows; the alarm's ``cleared_at`` and
    ``cleared_by`` are the derived status the worklists read."""

    __tablename__ = "alarm_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    action: Mapped[str] = mapped_column(String(12))  # "acknowledged" or "cleared"
    note: Mapped[str] = mapped_column(Text, default="")
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class Appointment(Base):
    __tablename__ = "appointments"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    booked_by: Mapped[str] = mapped_column(String(64))
    # The server's clock when it was booked (0007; None for older rows): only a refill booked
    # after the last fill can bring the review's next refill forward.
    booked_at: Mapped[datetime | None] = mapped_column(default=None)


class AdverseEvent(Base):
    __tablename__ = "adverse_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    occurred_on: Mapped[date] = mapped_column(Date)
    serious: Mapped[bool] = mapped_column(Boolean)
    description: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]


class AuditEntry(Base):
    """Append-only, chained: hash = HMAC-SHA256(key, previous hash + canonical JSON of the entry)
    (plain SHA-256 up to the head's ``legacy_seq``). The database refuses UPDATE and DELETE."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(100))
    detail_json: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


# Recent entries of one action (refused co-signatures, counted to slow down guessing; 0004).
Index("ix_audit_entries_action_at", AuditEntry.action, AuditEntry.at)


class AuditHead(Base):
    """The chain's last entry. Locked (SELECT ... FOR UPDATE) by each writer so the chain never
    forks when two transactions append at once. ``mac`` seals (seq, hash, legacy_seq) with the
    audit key, so a head wound back or moved onto a cut-off tail is found; the database lets its
    seq only move forward."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    # Entries up to here were chained with unkeyed SHA-256 before migration 0006.
    legacy_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    mac: Mapped[str | None] = mapped_column(String(64))


# --- outcomes registry (issue 6) ---------------------------------------------------------------


class OutcomeLink(Base):
    """A one-time link for a patient to answer questionnaires without an account.

    Only the SHA-256 of the token is kept. ``used_at`` is set once, by an UPDATE that only
    succeeds while it is still NULL, so two submissions racing on one link store one visit.
    """

    __tablename__ = "outcome_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))  # hidden field of the patient's form
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    procedure: Mapped[str] = mapped_column(String(60))
    timepoint: Mapped[str] = mapped_column(String(20))
    days_from_baseline: Mapped[int | None] = mapped_column(Integer)  # None: from the baseline
    instruments_json: Mapped[str] = mapped_column(Text)  # instrument keys the patient is asked
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class OutcomeResponse(Base):
    """One completed instrument of one patient at one time point of one procedure.

    Append-only like the other clinical records; the unique key turns a duplicate that raced
    past the check into an error instead of a second answer.
    """

    __tablename__ = "outcome_responses"
    __table_args__ = (UniqueConstraint("patient_id", "procedure", "timepoint", "instrument"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    procedure: Mapped[str] = mapped_column(String(60), index=True)
    timepoint: Mapped[str] = mapped_column(String(20))
    days_from_baseline: Mapped[int] = mapped_column(Integer)
    instrument: Mapped[str] = mapped_column(String(40))
    answers_json: Mapped[str] = mapped_column(Text)  # item key -> code or text, as validated
    collected_on: Mapped[date] = mapped_column(Date)
    entered_by: Mapped[str] = mapped_column(String(10))  # "staff" or "patient"
    link_id: Mapped[int | None] = mapped_column(ForeignKey("outcome_links.id"))
    created_by: Mapped[str] = mapped_column(String(64))  # user name, or "patient link <id>"
    created_at: Mapped[datetime]


class OutcomeSummary(Base):
    """Derived from ``outcome_responses`` (issue 13): each patient's answers to a procedure as
    bit masks, so the clinic's statistics are SQL sums, not a rebuild from every answer.

    Not a clinical record: rewritten for one patient and procedure whenever a visit is stored
    (``store.outcomes_stats.refresh``), and rebuilt whole by the migration that made it.
    """

    __tablename__ = "outcome_summary"
    __table_args__ = (
        Index("ix_outcome_summary_lookup", "procedure", "timepoint", "collected_on"),
        Index("ix_outcome_summary_orphans", "baseline_on", "procedure"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    procedure: Mapped[str] = mapped_column(String(60))
    timepoint: Mapped[str] = mapped_column(String(20))
    nominal_days: Mapped[int] = mapped_column(Integer)
    collected_on: Mapped[date] = mapped_column(Date)
    baseline_on: Mapped[date | None] = mapped_column(Date)  # the patient's, on every row
    baseline_mask: Mapped[int] = mapped_column(Integer)
    first: Mapped[int] = mapped_column(Integer)  # earliest row of its follow-up time point
    answered_mask: Mapped[int] = mapped_column(Integer)
    success_mask: Mapped[int] = mapped_column(Integer)
    effects_answered: Mapped[int] = mapped_column(Integer)
    effects_mask: Mapped[int] = mapped_column(Integer)
    review: Mapped[int] = mapped_column(Integer)


class ClinicSetting(Base):
    """Clinic-wide values kept with the data, e.g. the key of the registry's export pseudonyms."""

    __tablename__ = "clinic_settings"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class MriScan(Base):
    """A planned MRI of a pump patient (issue 12, item 11; migration 0012). Append-only: the
    plan is computed at page time from these inputs and the program in force."""

    __tablename__ = "mri_scans"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    scan_at: Mapped[datetime] = mapped_column(index=True)
    scan_minutes: Mapped[int] = mapped_column(Integer)
    field_t: Mapped[float] = mapped_column(Float)
    empty_hours_before: Mapped[float | None] = mapped_column(Float)  # Prometra only
    restart_hours_after: Mapped[float | None] = mapped_column(Float)  # Prometra only
    planned_by: Mapped[str] = mapped_column(String(64))
    planned_at: Mapped[datetime]


class MriConfirmation(Base):
    """After the scan: the pump was interrogated and is delivering. Ends the dashboard task."""

    __tablename__ = "mri_confirmations"

    id: Mapped[int] = mapped_column(primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("mri_scans.id"), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    note: Mapped[str] = mapped_column(Text)
    confirmed_by: Mapped[str] = mapped_column(String(64))
    confirmed_at: Mapped[datetime]
