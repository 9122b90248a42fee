"""Old and new settings side by side, with dose deltas per drug (the finish screen)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from intrathecal.engine.shape import delivery_shape
from intrathecal.library.records import DeliveryMode
from intrathecal.therapy.modes import mode_label
from intrathecal.therapy.program import ALL_DAYS, WEEKDAY_NAMES, Program
from intrathecal.therapy.summary import summarize
from intrathecal.units import (
    format_concentration,
    format_dose_rate,
    format_volume,
    format_volume_rate,
)


@dataclass(frozen=True)
class ComparisonRow:
    setting: str
    old: str
    new: str
    change: str  # "" when unchanged


def _delta(old: float | None, new: float | None, show: Callable[[float], str]) -> str:
    if old is None or new is None or old == new:
        return ""
    text = show(new - old)
    sign = "+" if new > old else ""
    percent = f" ({(new - old) / old * 100:+.1f}%)" if old else ""
    return f"{sign}{text}{percent}"


def compare(old: Program | None, new: Program) -> list[ComparisonRow]:
    rows: list[ComparisonRow] = []
    new_summary = summarize(new)
    old_summary = summarize(old) if old is not None else None
    keys = [i.drug.key for i in new.ingredients]
    if old is not None:
        keys += [i.drug.key for i in old.ingredients if i.drug.key not in keys]
    new_conc = {i.drug.key: i for i in new.ingredients}
    old_conc = {i.drug.key: i for i in old.ingredients} if old is not None else {}
    for key in keys:
        ingredient = new_conc.get(key) or old_conc[key]
        unit = ingredient.drug.dose_unit.value
        o = old_conc.get(key)
        n = new_conc.get(key)
        oc = o.concentration_mcg_per_ml if o else None
        nc = n.concentration_mcg_per_ml if n else None
        rows.append(
            ComparisonRow(
                f"{key} concentration",
                format_concentration(oc, unit) if oc is not None else "-",
                format_concentration(nc, unit) if nc is not None else "-",
                _delta(oc, nc, partial(format_concentration, mass_unit=unit)),
            )
        )
        od = old_summary.doses_mcg_per_day.get(key) if old_summary else None
        nd = new_summary.doses_mcg_per_day.get(key)
        rows.append(
            ComparisonRow(
                f"{key} daily dose",
                format_dose_rate(od, unit) if od is not None else "-",
                format_dose_rate(nd, unit) if nd is not None else "-",
                _delta(od, nd, partial(format_dose_rate, mass_unit=unit)),
            )
        )
    ov = old_summary.mean_volume_ml_per_day if old_summary else None
    nv = new_summary.mean_volume_ml_per_day
    rows.append(
        ComparisonRow(
            "daily volume",
            format_volume_rate(ov) if ov is not None else "-",
            format_volume_rate(nv),
            _delta(ov, nv, format_volume_rate),
        )
    )
    ow = old_summary.worst_case_volume_ml_per_day if old_summary else None
    nw = new_summary.worst_case_volume_ml_per_day
    rows.append(
        ComparisonRow(
            "worst-case daily volume",
            format_volume_rate(ow) if ow is not None else "-",
            format_volume_rate(nw),
            _delta(ow, nw, format_volume_rate),
        )
    )
    oa = old.low_reservoir_alarm_ml if old is not None else None
    rows.append(
        ComparisonRow(
            "low-reservoir alarm",
            format_volume(oa) if oa is not None else "-",
            format_volume(new.low_reservoir_alarm_ml),
            _delta(oa, new.low_reservoir_alarm_ml, format_volume),
        )
    )
    rows.extend(_basal_rows(old, new))
    rows.extend(_mode_rows(old, new))
    return rows


def _mode_rows(old: Program | None, new: Program) -> list[ComparisonRow]:
    """How the pump delivers: its mode, and the peak rate a patient meets (issue 16). Shown
    when periodic flow is involved; steps against one rate show in the basal rows already."""
    if DeliveryMode.PERIODIC_FLOW not in {new.mode, old.mode if old is not None else None}:
        return []
    new_mode = mode_label(new.device, new.mode)
    old_mode = mode_label(old.device, old.mode) if old is not None else "-"
    changed = "changed" if old is not None and old.mode is not new.mode else ""
    op = delivery_shape(old).peak_rate_ml_per_day if old is not None else None
    np_ = delivery_shape(new).peak_rate_ml_per_day
    return [
        ComparisonRow("delivery mode", old_mode, new_mode, changed),
        ComparisonRow(
            "peak programmed rate",
            format_volume_rate(op) if op is not None else "-",
            format_volume_rate(np_),
            _delta(op, np_, format_volume_rate),
        ),
    ]


def _step_key(start_s: int, days: frozenset[int]) -> str:
    clock = f"{start_s // 3600:02d}:{start_s % 3600 // 60:02d}"
    if days == ALL_DAYS:
        return clock
    return f"{clock} ({','.join(WEEKDAY_NAMES[d] for d in sorted(days))})"


def _basal_rows(old: Program | None, new: Program) -> list[ComparisonRow]:
    """One row per basal step start (old and new steps matched by start and days)."""
    new_steps = {_step_key(s.start_s, s.days): s.rate_ml_per_day for s in new.basal}
    old_steps = {_step_key(s.start_s, s.days): s.rate_ml_per_day for s in old.basal} if old else {}
    rows = []
    for key in sorted(new_steps.keys() | old_steps.keys()):
        o, n = old_steps.get(key), new_steps.get(key)
        rows.append(
            ComparisonRow(
                f"basal from {key}",
                format_volume_rate(o) if o is not None else "-",
                format_volume_rate(n) if n is not None else "-",
                _delta(o, n, format_volume_rate)
                if o is not None and n is not None
                else ("added" if o is None and old is not None else "removed" if n is None else ""),
            )
        )
    return rows
