"""Charts, PDF reports and the de-identified export."""

from __future__ import annotations

from datetime import date

import pytest

from intrathecal.charts.outcomes import (
    DoseSeries,
    PatientTrend,
    Series,
    dose_series_from_changes,
    patient_trend_chart,
    shares_chart,
)
from intrathecal.outcomes import (
    parse_responses_csv,
    patient_course,
    practice_statistics,
    procedure_statistics,
)
from intrathecal.reports import (
    PatientReport,
    Table,
    deidentified_csv,
    patient_report_pdf,
    practice_report_pdf,
    pseudonym,
)
from intrathecal.units import InputError
from tests.conftest import EXAMPLES

TEXT = (EXAMPLES / "outcomes.csv").read_text()
RESPONSES = parse_responses_csv(TEXT)
AS_OF = date(2025, 10, 28)
KEY = b"clinic-secret-key-0123456789"
PNG = b"\x89PNG\r\n\x1a\n"


def test_shares_chart_png_and_svg() -> None:
    t = procedure_statistics(RESPONSES, "facet-joint-injection", as_of=AS_OF).at("3 months")
    png = shares_chart(t, "Facet joint injection at 3 months")
    svg = shares_chart(t, "Facet joint injection at 3 months", "svg")
    assert png.startswith(PNG)
    assert b"<svg" in svg[:500]
    assert shares_chart(t, "Facet joint injection at 3 months", "svg") == svg  # reproducible


def test_patient_trend_chart_with_doses() -> None:
    course = patient_course(RESPONSES, "P001", "intrathecal-pump")
    doses = dose_series_from_changes(
        {date(2025, 7, 25): {"morphine": 1000.0}, date(2025, 9, 30): {"morphine": 2000.0}},
        {"morphine": "mg"},
    )
    assert doses == [
        DoseSeries("morphine", [(date(2025, 7, 25), 1000.0), (date(2025, 9, 30), 2000.0)], "mg")
    ]
    dated = [(p.collected_on, p.value) for p in course.series("pain") if p.collected_on]
    trend = PatientTrend(
        "P001",
        pain=Series("pain", dated),
        doses=doses,
    )
    assert patient_trend_chart(trend).startswith(PNG)
    assert b"<svg" in patient_trend_chart(trend, "svg")[:500]
    assert patient_trend_chart(PatientTrend("empty")).startswith(PNG)


def test_trend_chart_refuses_dates_mixed_with_day_numbers() -> None:
    trend = PatientTrend("x", pain=Series("p", [(date(2025, 1, 1), 5.0), (90, 3.0)]))
    with pytest.raises(ValueError, match="mix of dates"):
        patient_trend_chart(trend)


def test_practice_report_is_a_pdf_with_every_procedure() -> None:
    stats = practice_statistics(RESPONSES, as_of=AS_OF)
    pdf = practice_report_pdf(stats, generated_on=date(2025, 11, 1), clinic="Example clinic")
    assert pdf.startswith(b"%PDF-")
    # A title page, one page per procedure (three in the example), a page of definitions.
    assert b"/Count 5" in pdf
    again = practice_report_pdf(stats, generated_on=date(2025, 11, 1), clinic="Example clinic")
    assert again == pdf  # no clock inside: the same data gives the same document


def test_patient_report_is_a_pdf() -> None:
    report = PatientReport(
        patient_label="P001",
        generated_on=date(2025, 11, 1),
        pump_settings=Table(["setting", "value"], [["drug", "morphine 10 mg/mL"]]),
        doses=Table(["drug", "daily dose"], [["morphine", "2 mg/day (≥ 1.5 mg/day)"]]),
        refills=Table(["date", "volume"], []),
        course=patient_course(RESPONSES, "P001", "intrathecal-pump"),
    )
    pdf = patient_report_pdf(report)
    assert pdf.startswith(b"%PDF-")
    assert patient_report_pdf(PatientReport("P002", date(2025, 11, 1))).startswith(b"%PDF-")


def test_deidentified_export_has_stable_pseudonyms_and_no_dates_or_free_text() -> None:
    text = deidentified_csv(RESPONSES, KEY)
    header = text.splitlines()[0].split(",")
    assert "collected_on" not in header and "side_effects_other" not in header
    assert "P001" not in text and "dry mouth" not in text
    assert "2025-" not in text
    assert pseudonym("P001", KEY) in text
    assert pseudonym("P001", KEY) == pseudonym("P001", KEY) != pseudonym("P001", KEY + b"x")
    assert deidentified_csv(RESPONSES, KEY) == text


def test_deidentified_export_gives_the_same_statistics_without_dates() -> None:
    # The shares need only days from baseline, so they survive de-identification (with every
    # patient counted as due, since there is no date to say otherwise).
    back = parse_responses_csv(deidentified_csv(RESPONSES, KEY))
    for original, anonymous in zip(
        practice_statistics(RESPONSES), practice_statistics(back), strict=True
    ):
        for a, b in zip(original.timepoints, anonymous.timepoints, strict=True):
            assert [s.completers for s in a.shares] == [s.completers for s in b.shares]
            assert [s.missing_as_not_improved for s in a.shares] == [
                s.missing_as_not_improved for s in b.shares
            ]


def test_a_short_pseudonymisation_key_is_refused() -> None:
    with pytest.raises(InputError, match="at least 16 bytes"):
        deidentified_csv(RESPONSES, b"short")
