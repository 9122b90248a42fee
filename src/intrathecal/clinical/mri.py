"""MRI with an implanted pump: what each device does in the field, and the clinic's plan.

One home for the MRI facts (domain-facts.md, "SynchroMed II and MRI" and §2 Prometra); the
virtual pump's firmware and the clinic's MRI page both read them from here.

- SynchroMed II: the field stalls the motor's rotor; no drug for as long as the patient is in
  the field. Normal operation should resume when the exposure ends, but recovery has been
  reported to take 2 to 24 hours; interrogate afterwards to confirm delivery resumed.
- Prometra II: the flow-activated valve (FAV) closes in a strong field, delivering at most
  10 microlitres, and stays closed until manually reset: no drug until then. Every Prometra
  must be emptied before an MRI (valves may open and discharge reservoir and catheter); 1.5 T
  only.

The plan computes what is withheld with the delivery engine (engine/missed.py): the program's
own volume over the interruption, and the dose of each drug in it. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from intrathecal.engine.delivery import program_profile
from intrathecal.engine.missed import interruption
from intrathecal.library.records import Device, DeviceKind, DrugClass, Source, Sourced
from intrathecal.therapy.program import Program
from intrathecal.units import InputError, readable_number, readable_volume

HOUR = 3600.0

MEDTRONIC_MRI = Source(
    "medtronic-mri-guidelines",
    "Medtronic professional MRI guidelines, SynchroMed II model 8637",
    "http://professional.medtronic.com/devices/synchromed-II-for-spasticity/mri-guidelines/index.htm",
)
TGA_MRI = Source(
    "tga-synchromed-mri",
    "TGA hazard alert: SynchroMed II infusion pump, caution after MRI",
    "https://tga.gov.au/safety/product-recalls/synchromed-ii-infusion-pump-caution-after-mri",
)
PROMETRA_IFU = Source(
    "prometra-ii-ifu-p14",
    "Prometra II instructions for use p.14 (flow activated valve)",
    "https://manualshive.com/en/manual/flowonix/13827/2308328?page=14",
)
PROMETRA_MRI = Source(
    "prometra-ii-mri-guide",
    "Prometra II MRI instruction guide p.8; Flowonix MRI safety information (Jan 2020)",
    "https://manualshive.com/ru/manual/flowonix/13827/2308328?page=8",
)
BACLOFEN_LABEL = Source(
    "lioresal-monograph",
    "Lioresal Intrathecal monograph (withdrawal hazard)",
    "http://www.drugs.com/monograph/lioresal.html",
)

STALL_RECOVERY_MAX_S = Sourced(
    24 * HOUR,
    MEDTRONIC_MRI,
    verified=True,
    note="recovery after the exposure has been reported to take 2 to 24 hours",
)
FAV_DISCHARGE_ML = Sourced(
    0.010, PROMETRA_IFU, verified=True, note="at most 10 microlitres when the valve closes"
)
PROMETRA_FIELD_T = Sourced(1.5, PROMETRA_MRI, verified=True, note="1.5 T only")
# Planning defaults, shown as such: how long before the scan a Prometra is emptied and how
# long after it the valve is reset and the pump refilled. The clinic enters its own times.
PROMETRA_EMPTY_BEFORE_S = Sourced(
    1 * HOUR,
    Source("project-default", "Project planning default: enter the clinic's own times"),
    verified=False,
)
PROMETRA_RESTART_AFTER_S = Sourced(
    2 * HOUR,
    Source("project-default", "Project planning default: enter the clinic's own times"),
    verified=False,
)
MAX_SCAN_S = 12 * HOUR


def _volume(ml: float) -> str:
    return readable_volume(ml)


def _mass(mcg: float, unit: str) -> str:
    """A dose a person reads, in the drug's unit (units.readable_number)."""
    return f"{readable_number(mcg / 1000 if unit == 'mg' else mcg)} {unit}"


class MriResponse(Enum):
    MOTOR_STALL = "motor stall"  # SynchroMed II
    VALVE_CLOSES = "valve closes"  # Prometra II
    NOT_KNOWN = "not known"  # no MRI facts for this device in the reference notes


def response_of(device: Device) -> MriResponse:
    if device.key.startswith("synchromed"):
        return MriResponse.MOTOR_STALL
    if device.key.startswith("prometra-ii"):
        return MriResponse.VALVE_CLOSES
    return MriResponse.NOT_KNOWN


@dataclass(frozen=True)
class WithheldDrug:
    drug: str
    daily: str  # the patient's daily dose, as read
    withheld: str  # withheld over the interruption (range when it has one)
    withheld_mcg_low: float
    withheld_mcg_high: float
    risk: str  # the withdrawal risk in words, with its source
    high_risk: bool


@dataclass(frozen=True)
class MriPlan:
    device: str
    response: MriResponse
    scan_start_s: float
    scan_end_s: float
    withheld_from_s: float
    withheld_until_low_s: float  # earliest the drug flows again
    withheld_until_high_s: float  # latest, at the worst-case recovery
    withheld_ml_low: float
    withheld_ml_high: float
    drugs: tuple[WithheldDrug, ...]
    before: tuple[str, ...]
    after: tuple[str, ...]
    sources: tuple[str, ...]

    @property
    def withheld_hours(self) -> tuple[float, float]:
        return (
            (self.withheld_until_low_s - self.withheld_from_s) / HOUR,
            (self.withheld_until_high_s - self.withheld_from_s) / HOUR,
        )


def _risk(
    program: Program, key: str, withheld_low: float, withheld_high: float
) -> tuple[str, bool]:
    ingredient = next(i for i in program.ingredients if i.drug.key == key)
    drug = ingredient.drug
    if drug.drug_class is DrugClass.GABA_B_AGONIST:
        return (
            "HIGH RISK: abrupt baclofen withdrawal causes high fever, altered mental status, "
            "exaggerated rebound spasticity and rigidity, and rarely rhabdomyolysis, "
            "multi-organ failure and death; higher risk with spinal cord injury at T6 or above, "
            "communication difficulty or an earlier withdrawal. Agree cover with the physician "
            "before the scan and watch for withdrawal until delivery is confirmed "
            f"(verified; source: {BACLOFEN_LABEL.citation}; {MEDTRONIC_MRI.citation})",
            True,
        )
    if drug.drug_class is DrugClass.OPIOID:
        ratio = drug.it_morphine_equivalent
        equivalent = ""
        if ratio is not None and drug.key != "morphine":
            mg = withheld_high * ratio.value / 1000
            equivalent = f" (up to {mg:.3g} mg of intrathecal morphine; {ratio.provenance})"
        return (
            "opioid withdrawal risk at the patient's dose: decide with the physician whether the "
            "patient can go without it for the whole interruption, otherwise give it another "
            f"way{equivalent} (verified; source: {MEDTRONIC_MRI.citation})",
            False,
        )
    return (
        f"{drug.name} is not given during the interruption: expect its effect to wane; the "
        "reference notes hold no withdrawal data for it (UNVERIFIED: ask the physician)",
        False,
    )


def mri_plan(
    program: Program,
    scan_start_s: float,
    scan_duration_s: float,
    *,
    empty_before_s: float | None = None,
    restart_after_s: float | None = None,
    field_t: float = 1.5,
) -> MriPlan:
    """The clinic's plan for one scan of a patient on ``program``. Raises InputError naming the
    field when an input is out of range."""
    if not 60 <= scan_duration_s <= MAX_SCAN_S:
        raise InputError("scan_minutes", "must be from 1 min to 12 h")
    if field_t not in (1.5, 3.0):
        raise InputError("field_t", "must be 1.5 or 3 (tesla)")
    device = program.device
    response = response_of(device)
    if device.kind is DeviceKind.FIXED_RATE:
        response = MriResponse.NOT_KNOWN
    scan_end = scan_start_s + scan_duration_s
    profile = program_profile(program)
    sources = []
    if response is MriResponse.VALVE_CLOSES:
        before = PROMETRA_EMPTY_BEFORE_S.value if empty_before_s is None else empty_before_s
        after = PROMETRA_RESTART_AFTER_S.value if restart_after_s is None else restart_after_s
        if not 0 <= before <= 48 * HOUR:
            raise InputError("empty_hours_before", "must be from 0 to 48 h")
        if not 0 <= after <= 72 * HOUR:
            raise InputError("restart_hours_after", "must be from 0 to 72 h")
        start, low_end, high_end = scan_start_s - before, scan_end + after, scan_end + after
        sources = [PROMETRA_MRI.citation, PROMETRA_IFU.citation]
    elif response is MriResponse.MOTOR_STALL:
        start = scan_start_s
        low_end, high_end = scan_end, scan_end + STALL_RECOVERY_MAX_S.value
        sources = [MEDTRONIC_MRI.citation, TGA_MRI.citation]
    else:
        start, low_end, high_end = scan_start_s, scan_end, scan_end
    low = interruption(profile, start, low_end)
    high = interruption(profile, start, high_end)
    drugs = []
    for ingredient in program.ingredients:
        drug = ingredient.drug
        unit = drug.dose_unit.value
        c = ingredient.concentration_mcg_per_ml
        low_mcg, high_mcg = low.missed_ml * c, high.missed_ml * c
        # The dose of the day the scan starts in (a weekly program's day may differ).
        day_volume = interruption(profile, scan_start_s, scan_start_s + 86_400).missed_ml
        shown = (
            _mass(low_mcg, unit)
            if abs(high_mcg - low_mcg) < 1e-9
            else f"{_mass(low_mcg, unit)} to {_mass(high_mcg, unit)}"
        )
        risk, high_risk = _risk(program, drug.key, low_mcg, high_mcg)
        drugs.append(
            WithheldDrug(
                drug=drug.name,
                daily=_mass(day_volume * c, unit) + "/day",
                withheld=shown,
                withheld_mcg_low=low_mcg,
                withheld_mcg_high=high_mcg,
                risk=risk,
                high_risk=high_risk,
            )
        )
    before_steps, after_steps = _steps(program, response, field_t, low.missed_ml, high.missed_ml)
    return MriPlan(
        device=device.name,
        response=response,
        scan_start_s=scan_start_s,
        scan_end_s=scan_end,
        withheld_from_s=start,
        withheld_until_low_s=low_end,
        withheld_until_high_s=high_end,
        withheld_ml_low=low.missed_ml,
        withheld_ml_high=high.missed_ml,
        drugs=tuple(drugs),
        before=before_steps,
        after=after_steps,
        sources=tuple(sources),
    )


def _steps(
    program: Program, response: MriResponse, field_t: float, low_ml: float, high_ml: float
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    baclofen = any(i.drug.drug_class is DrugClass.GABA_B_AGONIST for i in program.ingredients)
    reservoir = _volume(program.device.reservoir_ml.value)
    if response is MriResponse.MOTOR_STALL:
        before = [
            "Decide with the physician whether the patient can go without drug for the scan and "
            "a recovery of up to 24 h; otherwise give it another way (Medtronic MRI guidelines).",
            "Do not program the pump to 'stopped' beforehand (Medtronic advises against it).",
            "Interrogate the pump before the scan; note the program and reservoir volume, and "
            "clear any sounding alarm (a pump alarming when it enters the field does not resume "
            "until interrogated: TGA hazard alert).",
            f"Withheld: {_volume(low_ml)} during the scan, up to {_volume(high_ml)} "
            "if the motor takes 24 h to recover.",
        ]
        after = [
            "Interrogate the pump as soon as the patient leaves the scanner: confirm the "
            "settings and that delivery resumed (the log shows the motor stall).",
            "Stall recovery may show in the log only at a second interrogation: interrogate "
            "again if it is missing, and until delivery is confirmed.",
            "Record 'pump confirmed delivering' here; the dashboard keeps a post-MRI task open "
            "until then.",
        ]
    elif response is MriResponse.VALVE_CLOSES:
        field = (
            "The scan must be at 1.5 T (Prometra: 1.5 T only)."
            if field_t == PROMETRA_FIELD_T.value
            else f"STOP: {field_t:g} T is outside the Prometra MRI conditions (1.5 T only)."
        )
        before = [
            f"Empty all drug from the pump (up to {reservoir}) before the scan: failing to empty "
            "a Prometra can cause an overdose (valves may open and discharge reservoir and "
            "catheter) (Prometra II MRI guide).",
            field,
            "Check the pump status before scheduling the scan.",
            f"Withheld from emptying to the refill: {_volume(high_ml)} of the program.",
        ]
        after = [
            "Check the pump status after the scan.",
            "Reset the flow-activated valve: it stays closed until manually reset, and the "
            "patient gets no drug until then (Prometra II IFU p.14).",
            "Refill the pump and confirm the program; confirm the pump is delivering.",
            "Record 'pump confirmed delivering' here; the dashboard keeps a post-MRI task open "
            "until then.",
        ]
    else:
        before = [
            f"{program.device.name}: the reference notes hold no MRI facts for this device "
            "(UNVERIFIED): follow the manufacturer's MRI conditions before scheduling.",
        ]
        after = [
            "Check the pump after the scan as its manufacturer directs; record 'pump confirmed "
            "delivering' here.",
        ]
    if baclofen:
        before.insert(
            0,
            "Baclofen: withdrawal can be life-threatening; plan cover and observation with the "
            "physician before the scan (Medtronic MRI guidelines; Lioresal monograph).",
        )
    return tuple(before), tuple(after)
