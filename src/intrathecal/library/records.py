"""Typed records of the drug and device library. Every number carries where it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Source:
    """A citation that library values point to by id."""

    id: str
    citation: str
    url: str = ""


class Origin(Enum):
    LIBRARY = "library"
    PROGRAM_OVERRIDE = "program override"
    CLINIC_PROTOCOL = "clinic protocol"


@dataclass(frozen=True)
class Sourced(Generic[T]):
    """A value with its source, whether that source was read and confirmed, and its origin.

    ``verified`` is True only when the number was found in the cited source text. Unverified
    values are shown as such to users (design.md, "Reference data").
    """

    value: T
    source: Source
    verified: bool
    note: str = ""
    origin: Origin = Origin.LIBRARY

    @property
    def provenance(self) -> str:
        if self.origin is Origin.CLINIC_PROTOCOL:
            return f"clinic protocol: {self.source.citation}"
        status = "verified" if self.verified else "UNVERIFIED"
        where = "" if self.origin is Origin.LIBRARY else f", {self.origin.value}"
        return f"{status}{where}; source: {self.source.citation}"


class MassUnit(Enum):
    MG = "mg"
    MCG = "mcg"


@dataclass(frozen=True)
class Bounds:
    """Soft and hard upper limits of one quantity, in its canonical unit.

    Soft limits warn and need an acknowledgement; hard limits block (design.md, "Limits").
    """

    soft_max: Sourced[float] | None = None
    hard_max: Sourced[float] | None = None


@dataclass(frozen=True)
class ChangeLimit:
    """Largest allowed increase: a fraction of the current dose, an absolute dose rate, or both.

    When both are given, the stricter one applies.
    """

    fraction: float | None = None
    absolute_mcg_per_day: float | None = None


@dataclass(frozen=True)
class ChangeBounds:
    """How far and how often a daily dose may change.

    Rises are limited per step, over any rolling 24 h and 7 days, and by the time since the
    last increase; cuts per step (abrupt withdrawal is dangerous too). Fractions of a decrease
    are of the dose before the cut.
    """

    per_step_soft: Sourced[ChangeLimit] | None = None
    per_step_hard: Sourced[ChangeLimit] | None = None
    per_day_soft: Sourced[ChangeLimit] | None = None
    per_day_hard: Sourced[ChangeLimit] | None = None
    per_week_soft: Sourced[ChangeLimit] | None = None
    per_week_hard: Sourced[ChangeLimit] | None = None
    decrease_per_step_soft: Sourced[ChangeLimit] | None = None
    decrease_per_step_hard: Sourced[ChangeLimit] | None = None
    min_increase_interval_soft_s: Sourced[float] | None = None
    min_increase_interval_hard_s: Sourced[float] | None = None


class Strictness(Enum):
    """How a library rule is enforced: hard blocks, soft needs an acknowledgement."""

    HARD = "hard"
    SOFT = "soft"


@dataclass(frozen=True)
class StartingRange:
    """Usual starting daily dose; ``hard_max`` only where a label sets a ceiling."""

    low: Sourced[float] | None
    high: Sourced[float] | None


@dataclass(frozen=True)
class Restriction:
    """A labelled restriction of a drug: bolus modes it must not be given by (on one device,
    or on any when ``device`` is None), and the quote that says so."""

    drug: str
    device: str | None
    bolus_modes: frozenset[BolusMode]
    strictness: Strictness
    rule: Sourced[str]  # value: the quote from the source


@dataclass(frozen=True)
class LabelledDevices:
    """The devices a drug's label names; use in any other is off-label."""

    devices: Sourced[tuple[str, ...]]
    strictness: Strictness


class DrugClass(Enum):
    OPIOID = "opioid"
    LOCAL_ANAESTHETIC = "local anaesthetic"
    ALPHA2_AGONIST = "alpha-2 agonist"
    N_TYPE_CALCIUM_CHANNEL_BLOCKER = "N-type calcium channel blocker"
    GABA_B_AGONIST = "GABA-B agonist"


@dataclass(frozen=True)
class Drug:
    key: str
    name: str
    drug_class: DrugClass
    dose_unit: MassUnit
    approved_for_pump: Sourced[bool]
    mixable: Sourced[bool]
    compatibility: str
    stability_days: Sourced[float]
    concentration_mcg_per_ml: Bounds
    daily_dose_mcg_per_day: Bounds
    bolus_dose_mcg: Bounds
    change: ChangeBounds
    # Named alternative change limits (baclofen: "spinal" and "cerebral" origin).
    change_profiles: dict[str, ChangeBounds] = field(default_factory=dict)
    # A shorter first interval after filling a new (naive) pump, e.g. ziconotide's 14 days.
    first_fill_stability_days: Sourced[float] | None = None
    starting_daily_dose_low_mcg_per_day: Sourced[float] | None = None
    starting_daily_dose_high_mcg_per_day: Sourced[float] | None = None
    # Opioid-tolerant starting range where a source gives one (the default range is for the
    # opioid-naive); a labelled ceiling on a starting dose is a hard limit.
    starting_tolerant_low_mcg_per_day: Sourced[float] | None = None
    starting_tolerant_high_mcg_per_day: Sourced[float] | None = None
    starting_daily_dose_hard_max_mcg_per_day: Sourced[float] | None = None
    # Longer stability at the undiluted vial strengths (ziconotide: 84 days vs 40 diluted).
    stability_undiluted_days: Sourced[float] | None = None
    undiluted_concentrations_mcg_per_ml: tuple[float, ...] = ()
    # mg of intrathecal morphine equivalent to 1 mg of this drug intrathecally (opioid switches).
    it_morphine_equivalent: Sourced[float] | None = None
    labelled_devices: LabelledDevices | None = None
    restrictions: tuple[Restriction, ...] = ()
    notes: str = ""

    def starting_range(self, opioid_tolerant: bool | None) -> StartingRange:
        """The tolerant range when the patient is opioid-tolerant and a source gives one;
        otherwise the default (opioid-naive, stricter) range."""
        if opioid_tolerant and self.starting_tolerant_high_mcg_per_day is not None:
            return StartingRange(
                self.starting_tolerant_low_mcg_per_day, self.starting_tolerant_high_mcg_per_day
            )
        return StartingRange(
            self.starting_daily_dose_low_mcg_per_day, self.starting_daily_dose_high_mcg_per_day
        )

    def stability_at(self, concentration_mcg_per_ml: float) -> Sourced[float]:
        """Stability in the reservoir at a concentration: the undiluted figure only at an
        undiluted vial strength (a diluted solution, even a stronger one, keeps the shorter)."""
        undiluted = self.stability_undiluted_days
        if undiluted is not None and any(
            abs(concentration_mcg_per_ml - c) <= 1e-9 * c
            for c in self.undiluted_concentrations_mcg_per_ml
        ):
            return undiluted
        return self.stability_days


class DeviceKind(Enum):
    PROGRAMMABLE = "programmable"
    FIXED_RATE = "fixed-rate"


class BolusMode(Enum):
    PERIODIC = "periodic"
    DEMAND = "demand"
    CLINICIAN = "clinician"
    BRIDGE = "bridge"
    PRIMING = "priming"


class DeliveryMode(StrEnum):
    """How a device can be told to deliver, in its own labelling's words.

    ``continuous`` is one rate all day (SynchroMed "simple continuous", Prometra "constant
    flow"); ``flex`` and ``multiple-rates`` are timed basal steps (SynchroMed and Prometra);
    ``periodic-flow`` is doses at set times with no flow between (Prometra only);
    ``fixed-rate`` is a constant-flow pump's one labelled rate (no program at all).
    A string enum, so JSON shows the mode's name.
    """

    CONTINUOUS = "continuous"
    FLEX = "flex"
    MULTIPLE_RATES = "multiple-rates"
    PERIODIC_FLOW = "periodic-flow"
    FIXED_RATE = "fixed-rate"

    @property
    def stepped(self) -> bool:
        """Whether the mode runs more than one basal step per day."""
        return self in (DeliveryMode.FLEX, DeliveryMode.MULTIPLE_RATES)


@dataclass(frozen=True)
class Device:
    key: str
    name: str
    manufacturer: str
    kind: DeviceKind
    bolus_modes: frozenset[BolusMode]
    reservoir_ml: Sourced[float]
    min_rate_ml_per_day: Sourced[float]
    max_rate_ml_per_day: Sourced[float]
    max_bolus_rate_ml_per_day: Sourced[float]
    rate_step_ml_per_day: Sourced[float]
    accuracy_fraction: Sourced[float]
    low_reservoir_alarm_default_ml: Sourced[float]
    low_reservoir_alarm_min_ml: Sourced[float]
    low_reservoir_alarm_max_ml: Sourced[float]
    pathway_volume_ml: Sourced[float]
    catheter_ml_per_cm: Sourced[float]
    max_basal_steps_per_day: Sourced[int]
    service_life_days: Sourced[float]
    eri_to_eos_days: Sourced[float] | None = None
    max_refill_interval_days: Sourced[float] | None = None
    non_retrievable_ml: Sourced[float] | None = None
    # Fixed-rate pumps deliver one labelled rate; the program must state it.
    fixed_rates_ml_per_day: Sourced[tuple[float, ...]] | None = None
    # The delivery modes the device offers, in the order a clinician meets them.
    modes: Sourced[tuple[DeliveryMode, ...]] | None = None
    # Volume of one valve actuation of a valve-gated (accumulator) pump such as Prometra.
    actuation_volume_ml: Sourced[float] | None = None
    restrictions: tuple[Restriction, ...] = ()
    notes: str = ""

    @property
    def delivery_modes(self) -> tuple[DeliveryMode, ...]:
        """The device's modes; without a list, what its kind implies."""
        if self.modes is not None:
            return self.modes.value
        if self.kind is DeviceKind.FIXED_RATE:
            return (DeliveryMode.FIXED_RATE,)
        return (DeliveryMode.CONTINUOUS, DeliveryMode.FLEX)

    @property
    def stepped_mode(self) -> DeliveryMode | None:
        """The device's mode of timed basal steps (flex or multiple rates), if it has one."""
        return next((m for m in self.delivery_modes if m.stepped), None)

    def sourced_values(self) -> dict[str, Sourced[object]]:
        """Every sourced constant of the device by field name (for display of provenance)."""
        values: dict[str, Sourced[object]] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, Sourced):
                values[name] = value
        return values


@dataclass(frozen=True)
class Library:
    drugs: dict[str, Drug]
    devices: dict[str, Device]
    sources: dict[str, Source]

    def drug(self, key: str) -> Drug:
        try:
            return self.drugs[key]
        except KeyError:
            known = ", ".join(sorted(self.drugs))
            raise KeyError(f"unknown drug {key!r}; the library knows: {known}") from None

    def device(self, key: str) -> Device:
        try:
            return self.devices[key]
        except KeyError:
            known = ", ".join(sorted(self.devices))
            raise KeyError(f"unknown device {key!r}; the library knows: {known}") from None
