"""Recovery: reconcile journalled pump changes with the pump's event log after a crash.

The refill wizard, the apply-to-pump path and a bolus between refills journal their intent
before sending anything (``store/pump_journal.py``), naming their pump requests by the entry's
token. Every open entry is reconciled here, at the clinic's start (``itp clinic run``) and at
the next interrogation of that pump (chart, wizard), once it is older than the link's longest
send (still in flight before that):

- the pump's log shows the request applied as sent: the clinic record is completed from what
  the pump confirmed, exactly as the wizard writes it (same lines, the pump's fill time), with
  a line saying recovery completed it; the record and the journal's "recorded" mark are one
  transaction, so running recovery twice (or beside the wizard) never writes two records;
- the log shows it refused, or never received: the entry is marked not done (audited) and
  shown on the pump's panel; nothing is recorded, since the pump did not change;
- the pump does not answer, or its log no longer reaches back: the entry stays open and says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from intrathecal.library import default_library
from intrathecal.pump.firmware import canonical_program
from intrathecal.store import boluses, programs, pump_journal, refills
from intrathecal.store.boluses import BolusRequest
from intrathecal.store.db import READ_ONLY
from intrathecal.store.errors import ConflictError, NotFoundError
from intrathecal.store.models import Patient, PumpJournalEntry
from intrathecal.store.types import utc_from_s
from intrathecal.therapy.errors import InvalidProgramError
from intrathecal.units import InputError
from intrathecal.web.bolus_pump import readback_line
from intrathecal.web.display import when
from intrathecal.web.pump_link import (
    BolusStarted,
    PumpEvent,
    PumpLink,
    PumpLinkError,
    PumpLinks,
    RefillReadBack,
    request_id,
)

READ_BACK = "pump read-back:"  # prefix of the refill-record lines written from the pump
RECOVERY = "recovery"  # the actor of what recovery writes in the audit log
SHOWN_FOR = timedelta(days=30)  # how long the pump's panel shows what recovery closed


@dataclass(frozen=True)
class Resolution:
    entry_id: int
    serial: str
    kind: str
    status: str  # "recorded", "not_done" or one of the open statuses
    message: str


@dataclass(frozen=True)
class Logged:
    """What the pump's log says about one request: applied (with the events it logged),
    refused (nothing changed), or absent (it never reached the pump)."""

    state: str
    events: tuple[PumpEvent, ...] = ()
    message: str = ""

    def first(self, kind: str) -> PumpEvent | None:
        return next((e for e in self.events if e.kind == kind), None)


def find(events: Sequence[PumpEvent], rid: str) -> Logged:
    """The firmware logs "command" (request id) then what the command did, or only "refused"."""
    for index, event in enumerate(events):
        if event.data.get("request_id") != rid:
            continue
        if event.kind == "refused":
            return Logged("refused", (event,), event.message)
        if event.kind == "command":
            span = []
            for later in events[index + 1 :]:
                if later.kind in ("command", "refused"):
                    break
                span.append(later)
            return Logged("applied", tuple(span))
    return Logged("absent")


def clock_gap(pump_time_s: float, clinic_now: datetime) -> str:
    """How far the pump's clock is from the clinic's, in words ("" within a minute)."""
    gap = pump_time_s - clinic_now.timestamp()
    if abs(gap) < 60:
        return ""
    side = "ahead of" if gap > 0 else "behind"
    size = abs(gap)
    if size >= 86_400:
        amount = f"{size / 86_400:.1f} days"
    elif size >= 3600:
        amount = f"{size / 3600:.1f} h"
    else:
        amount = f"{size / 60:.0f} min"
    return f"{amount} {side} the clinic's clock"


def record_lines(
    where: str,
    version: int,
    back: RefillReadBack,
    clinic_now: datetime,
    bridge_line: str | None,
) -> list[str]:
    """The lines a pump-linked refill record carries: one function for the wizard and recovery."""
    lines = [
        f"{READ_BACK} {where}: filled {back.filled_ml:g} mL at {when(back.filled_at_s)}; "
        f"program version {version} active, checksum {back.checksum}",
    ]
    if back.pump_expected_ml is not None and back.pump_discrepancy_ml is not None:
        verdict = {True: "INVESTIGATE", False: "within limits", None: "verdict in the pump's log"}
        lines.append(
            f"{READ_BACK} the pump's own count before the fill: {back.pump_expected_ml:.2f} mL "
            f"left, discrepancy {back.pump_discrepancy_ml:+.2f} mL "
            f"({verdict[back.pump_investigate]})"
        )
    gap = clock_gap(back.filled_at_s, clinic_now)
    if gap:
        lines.append(f"{READ_BACK} the refill's time is the pump's clock, {gap}")
    if bridge_line is not None:
        lines.append(bridge_line)
    return lines


def bridge_not_started(why: str) -> str:
    return (
        f"{READ_BACK} bridge bolus NOT started on the pump ({why}); the refill "
        "and program stand: give the bridge bolus with the pump's programmer"
    )


def bridge_started(volume_ml: float, started_at_s: float, ends_at_s: float) -> str:
    return (
        f"{READ_BACK} bridge bolus {volume_ml:.3f} mL started {when(started_at_s)},"
        f" ends {when(ends_at_s)}"
    )


BRIDGE_NOT_CHOSEN = f"{READ_BACK} bridge bolus not sent to the pump (not chosen): give it by hand"


# --- reconciling ---------------------------------------------------------------------------


@contextmanager
def writing(session: Session) -> Iterator[Session]:
    """A session recovery can write with: ``session`` itself, or beside a read-only one (a
    page that only reads holds no write lock, so a second connection may take it)."""
    if not session.info.get(READ_ONLY):
        yield session
        return
    bind = session.get_bind().execution_options(**{READ_ONLY: False})
    # The writer carries the reader's info but for read-only: the audit key above all.
    info = {k: v for k, v in session.info.items() if k != READ_ONLY}
    with Session(bind, info=info) as writer:
        yield writer


def due(session: Session, link: PumpLink, now: datetime) -> bool:
    """Whether this pump has open entries no longer in flight (a read, no lock)."""
    started_by = now - timedelta(seconds=link.in_flight_s)
    return bool(pump_journal.open_for(session, link.serial, started_by))


def recover_pump(
    session: Session, link: PumpLink, now: datetime, grace_s: float | None = None
) -> list[Resolution]:
    """Reconcile this pump's open entries begun more than ``grace_s`` (default: the link's
    longest send) before ``now`` (the server's clock). Commits each entry's outcome."""
    grace = link.in_flight_s if grace_s is None else grace_s
    entries = pump_journal.open_for(session, link.serial, now - timedelta(seconds=grace))
    if not entries:
        return []
    since = min(e.since_seq for e in entries)
    try:
        events = link.log(since)
    except PumpLinkError as exc:
        return [_still_open(e, f"not reconciled yet: {exc.message}") for e in entries]
    if events and events[0].seq > since + 1:
        why = f"the pump's log starts at event {events[0].seq}, after {since}: check it by hand"
        return [_still_open(e, why) for e in entries]
    out = []
    for entry in entries:
        try:
            if entry.kind == "refill":
                out.append(_refill(session, link, entry, events, now))
            elif entry.kind == "bolus":
                out.append(_bolus(session, link, entry, events, now))
            else:
                out.append(_program(session, link, entry, events, now))
        except (InputError, ValueError, NotFoundError, PumpLinkError) as exc:
            session.rollback()
            out.append(_still_open(entry, f"not reconciled: {exc}"))
    return out


def recover_all(
    session: Session, links: PumpLinks, now: datetime, grace_s: float = 0.0
) -> list[Resolution]:
    """Every pump with an open entry (at the clinic's start, when nothing is in flight)."""
    out: list[Resolution] = []
    for serial in pump_journal.open_serials(session):
        link = links.link(serial)
        if link is None:
            out.extend(
                _still_open(e, "no pump link is configured: reconcile it with the pump by hand")
                for e in pump_journal.open_for(session, serial)
            )
            continue
        out.extend(recover_pump(session, link, now, grace_s))
    return out


def recover_at_start(url: str, links: PumpLinks) -> list[str]:
    """Run at the clinic's start, before it serves (``itp clinic run``): every open entry is
    reconciled now (nothing of this clinic is in flight); one line per entry, for the log."""
    from intrathecal.store.db import open_database  # the CLI's door, not the pages'

    engine, sessions = open_database(url)
    try:
        with sessions() as session:
            found = recover_all(session, links, datetime.now(UTC))
    finally:
        engine.dispose()
    return [
        f"pump journal {r.entry_id} ({r.kind}, pump {r.serial}): {r.status}: {r.message}"
        for r in found
    ]


def _still_open(entry: PumpJournalEntry, why: str) -> Resolution:
    return Resolution(entry.id, entry.serial, entry.kind, entry.status, why)


def _close(
    session: Session,
    entry: PumpJournalEntry,
    now: datetime,
    status: str,
    outcome: str,
    **ids: int,
) -> Resolution:
    """Mark the entry (in the transaction that wrote its record, if any) and commit."""
    entry_id, serial, kind = entry.id, entry.serial, entry.kind
    moved = pump_journal.move(
        session, entry_id, status, now, RECOVERY, outcome, by_recovery=True, **ids
    )
    if not moved:
        session.rollback()  # closed meanwhile by the wizard or another worker: keep theirs
        return Resolution(entry_id, serial, kind, "closed", "already closed by another worker")
    session.commit()
    return Resolution(entry_id, serial, kind, status, outcome)


def _not_applied(logged: Logged, what: str) -> str:
    if logged.state == "refused":
        why = f"the pump refused it: {logged.message}"
    else:
        why = "the pump's log has no such request: it never reached the pump"
    return f"{what} ({why}); nothing was recorded"


def _canonical(text: str) -> str:
    try:
        return canonical_program(text, default_library())[1]
    except (InvalidProgramError, InputError, ValueError):
        return text


def _refill(
    session: Session,
    link: PumpLink,
    entry: PumpJournalEntry,
    events: Sequence[PumpEvent],
    now: datetime,
) -> Resolution:
    data = pump_journal.payload(entry)
    rid = request_id(entry.token, "refill")
    logged = find(events, rid)
    if logged.state != "applied":
        outcome = _not_applied(logged, "the pump was not refilled")
        return _close(session, entry, now, pump_journal.NOT_DONE, outcome)
    filled, activated = logged.first("refilled"), logged.first("program_activated")
    if (
        filled is None
        or activated is None
        or filled.data.get("volume_ml") != data["fill_ml"]
        or activated.data.get("checksum") != data["checksum"]
    ):
        outcome = (
            "the pump's log shows this refill applied otherwise than sent: interrogate the "
            "pump and record what it holds with typed-in values"
        )
        return _close(session, entry, now, pump_journal.NOT_DONE, outcome)
    patient = session.get(Patient, entry.patient_id)
    assert patient is not None
    version = programs.by_version(session, patient.id, int(data["program_version"]))
    canonical = _canonical(version.program_toml)
    back = _read_back(link, rid, data, filled, str(activated.data["checksum"]), canonical)
    request = refills.RefillRequest(
        fill_ml=float(data["fill_ml"]),
        performed_at=utc_from_s(filled.at_s),
        withdrawn_ml=data["withdrawn_ml"],
        demand_boluses=int(data["demand_boluses"]),
        program_version=version.version,
        stocks_mcg_per_ml={str(k): float(v) for k, v in data["stocks_mcg_per_ml"].items()},
        overage_ml=float(data["overage_ml"]),
        via=str(data["via"]),
        readback=canonical,
        notes=str(data["notes"]),
        investigate_reason=str(data.get("investigate_reason") or ""),
        follows_refill_id=data.get("follows_refill_id", refills.Follows.LATEST),
        lots=tuple(
            refills.DrugLot(str(x["drug"]), str(x["lot"]), date.fromisoformat(str(x["expiry"])))
            for x in data.get("lots") or ()
        ),
        compounded_by=str(data.get("compounded_by") or ""),
        older_version_reason=str(data.get("older_version_reason") or ""),
    )
    try:
        prepared = refills.prepare(session, patient, request)
    except (InputError, ValueError, NotFoundError) as exc:
        outcome = (
            f"the pump was refilled at {when(filled.at_s)} but the clinic record could not be "
            f"completed ({exc}): record this refill with typed-in values"
        )
        return _close(session, entry, now, pump_journal.NOT_DONE, outcome)
    bridge_line = _bridge_line(prepared, data, events, entry.token)
    lines = record_lines(str(data["where"]), version.version, back, entry.created_at, bridge_line)
    lines.append(
        f"recovery: completed at {when(now)} from the pump's event log; the clinic "
        f"stopped after the pump confirmed this refill and before it was recorded"
    )
    notes = "\n".join([request.notes.strip(), *lines]).strip()
    cosigned = data.get("cosigned_by")
    try:
        row = refills.save(
            session,
            patient,
            replace(request, notes=notes),
            entry.created_by,
            recorded_at=now,
            verified_cosigner=str(cosigned) if cosigned else None,
        )
    except ConflictError as exc:
        # Someone recorded a refill after this one was sent (typed in after the crash): the
        # pump's refill is not recorded a second time; the people who saw it check that record.
        session.rollback()
        outcome = (
            f"the pump confirmed the refill at {when(filled.at_s)}, but refill "
            f"{exc.current_version} was recorded after it was sent: not recorded twice; check "
            f"refill {exc.current_version} against the pump's log"
        )
        ids = {"refill_id": exc.current_version} if exc.current_version is not None else {}
        return _close(session, entry, now, pump_journal.RECORDED, outcome, **ids)
    outcome = f"the pump confirmed the refill at {when(filled.at_s)}; recorded as refill {row.id}"
    return _close(session, entry, now, pump_journal.RECORDED, outcome, refill_id=row.id)


def _read_back(
    link: PumpLink,
    rid: str,
    data: dict[str, Any],
    filled: PumpEvent,
    checksum: str,
    canonical: str,
) -> RefillReadBack:
    """What the wizard would have read back, from the pump's log and its stored reply."""
    volume = float(data["fill_ml"])
    expected = discrepancy = None
    investigate = None
    try:
        stored = link.reply(rid)
    except PumpLinkError:
        stored = None
    if stored is not None:  # the pump's own answer, as the wizard would have had it
        rec = (stored.get("result") or {}).get("reconciliation") or {}
        if rec:
            expected = float(rec["expected_ml"])
            discrepancy = float(rec["discrepancy_ml"])
            investigate = bool(rec["investigate"])
    elif data["withdrawn_ml"] is not None and data.get("previous_refill_id") is not None:
        expected = float(filled.data["expected_residual_ml"])
        discrepancy = float(data["withdrawn_ml"]) - expected
    return RefillReadBack(
        filled_ml=volume,
        filled_at_s=filled.at_s,
        checksum=checksum,
        program_toml=canonical,
        reservoir_ml=volume,
        drugs=tuple((str(k), float(v)) for k, v in data["drugs"].items()),
        pump_expected_ml=expected,
        pump_discrepancy_ml=discrepancy,
        pump_investigate=investigate,
    )


def _bridge_line(
    prepared: refills.RefillPlan,
    data: dict[str, Any],
    events: Sequence[PumpEvent],
    token: str,
) -> str | None:
    if prepared.bridge is None:
        return None
    if not data["bridge_on_pump"]:
        return BRIDGE_NOT_CHOSEN
    logged = find(events, request_id(token, "bridge"))
    started = logged.first("bolus_started")
    if logged.state == "applied" and started is not None:
        ends = started.at_s + float(started.data["duration_s"])
        return bridge_started(float(started.data["volume_ml"]), started.at_s, ends)
    if logged.state == "refused":
        return bridge_not_started(f"the pump refused it: {logged.message}")
    return bridge_not_started("the clinic stopped before sending it")


def _program(
    session: Session,
    link: PumpLink,
    entry: PumpJournalEntry,
    events: Sequence[PumpEvent],
    now: datetime,
) -> Resolution:
    data = pump_journal.payload(entry)
    logged = find(events, request_id(entry.token, "activate"))
    if logged.state != "applied":
        outcome = _not_applied(logged, "the program was not activated on the pump")
        return _close(session, entry, now, pump_journal.NOT_DONE, outcome)
    activated = logged.first("program_activated")
    if activated is None or activated.data.get("checksum") != data["checksum"]:
        outcome = "the pump's log shows another program activated: interrogate the pump"
        return _close(session, entry, now, pump_journal.NOT_DONE, outcome)
    patient = session.get(Patient, entry.patient_id)
    assert patient is not None
    version = programs.by_version(session, patient.id, int(data["program_version"]))
    application = programs.apply_version(
        session,
        patient,
        version,
        entry.created_by,
        utc_from_s(activated.at_s),
        str(data["via"]),
        _canonical(version.program_toml),
        recovered=True,
    )
    outcome = (
        f"the pump confirmed version {version.version} active at {when(activated.at_s)}; "
        f"recorded as application {application.id}"
    )
    return _close(
        session, entry, now, pump_journal.RECORDED, outcome, application_id=application.id
    )


def _bolus(
    session: Session,
    link: PumpLink,
    entry: PumpJournalEntry,
    events: Sequence[PumpEvent],
    now: datetime,
) -> Resolution:
    """A clinician or bridge bolus (web/bolus_pump.py): recorded from the pump's log if it
    started, at the pump's start time; never sent again."""
    request = BolusRequest.from_payload(pump_journal.payload(entry))
    logged = find(events, request_id(entry.token, request.kind))
    started = logged.first("bolus_started")
    if logged.state != "applied" or started is None:
        outcome = _not_applied(logged, f"the {request.kind} bolus was not started on the pump")
        return _close(session, entry, now, pump_journal.NOT_DONE, outcome)
    patient = session.get(Patient, entry.patient_id)
    assert patient is not None
    version = programs.by_version(session, patient.id, request.program_version)
    answer = BolusStarted(
        request.kind,
        float(started.data["volume_ml"]),
        started.at_s,
        started.at_s + float(started.data["duration_s"]),
    )
    where = str(pump_journal.payload(entry).get("where", link.where))
    row = boluses.record(
        session,
        patient,
        version,
        request,
        entry.created_by,
        now,
        started_at=utc_from_s(started.at_s),
        via=str(pump_journal.payload(entry).get("via", link.via)),
        readback=f"{readback_line(where, answer)}; recovery: completed at "
        f"{when(now)} from the pump's event log",
        recovered=True,
    )
    outcome = (
        f"the pump started the {request.kind} bolus at {when(started.at_s)}; recorded as bolus "
        f"{row.id}"
    )
    return _close(session, entry, now, pump_journal.RECORDED, outcome)


# --- what the pump's panel shows -----------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    entry: PumpJournalEntry
    text: str
    problem: bool  # shown as an error (open, or not done)


def shown(session: Session, serial: str, now: datetime, in_flight_s: float) -> list[Shown]:
    out = []
    for entry in pump_journal.shown_for(session, serial, now - SHOWN_FOR):
        what = f"The {entry.kind} sent to this pump at {when(entry.created_at)} by "
        what += entry.created_by
        if entry.status in pump_journal.OPEN:
            after = when((entry.created_at + timedelta(seconds=in_flight_s)).timestamp())
            text = (
                f"{what} is not reconciled with the pump yet ({entry.status}"
                + (f": {entry.outcome}" if entry.outcome else "")
                + f"). It is checked against the pump's log from {after}, or when the clinic "
                "restarts; do not repeat it before then."
            )
        elif entry.status == pump_journal.NOT_DONE:
            text = f"Not done: {what}: {entry.outcome}."
        else:
            text = f"Completed by recovery: {what}: {entry.outcome}."
        out.append(Shown(entry, text, entry.status != pump_journal.RECORDED))
    return out
