"""``itp outcomes`` as a clinic runs it on its own export: numbers, files, refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from intrathecal.cli.outcomes_cmd import app
from tests.conftest import EXAMPLES

DATA = EXAMPLES / "outcomes.csv"
runner = CliRunner()


def run(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_report_json_facet_joint_injection_hand_counted() -> None:
    # examples/outcomes.csv, facet joint injection: 12 patients (P009-P020). As of the latest
    # date in the file (2025-10-28), P009 (baseline 2025-09-07) is not yet due at 3 months;
    # 11 are due, 9 answered (P017 and P018 did not).
    # PGIC of the 9: 1, 3, 1, 2, 1, 2, 3, 3, 3 -> 'much/very much improved' (1-2): 5 of 9.
    # NRS baseline -> 3 months: 7->3, 9->8, 7->2, 9->5, 7->1, 6->4, 8->7, 7->4, 7->6; a drop of
    # >= 2 points or >= 30%: 6 of 9 (not 9->8, 8->7, 7->6); counting the 2 missing: 6 of 11.
    code, out, _ = run("report", DATA, "--procedure", "facet-joint-injection", "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["ok"] is True and payload["as_of"] == "2025-10-28"
    [proc] = payload["procedures"]
    assert proc["cohort"] == 12
    [t] = proc["timepoints"]
    assert (t["due"], t["responded"], t["not_yet_due"]) == (11, 9, 1)
    shares = {s["key"]: s for s in t["shares"]}
    improved = shares["improved"]
    assert (improved["completers_only"]["successes"], improved["completers_only"]["n"]) == (5, 9)
    assert improved["missing_as_not_improved"]["n"] == 11
    less = shares["less_pain"]
    assert (less["completers_only"]["successes"], less["missing_as_not_improved"]["n"]) == (6, 11)
    assert less["definition"].startswith("NRS pain")
    low, high = (
        less["completers_only"]["ci95_low_fraction"],
        less["completers_only"]["ci95_high_fraction"],
    )
    assert low < 6 / 9 < high
    assert less["small_n"] is True and less["warnings"]


def test_report_text_shows_definitions_both_denominators_and_warnings() -> None:
    code, out, _ = run("report", DATA, "--procedure", "intrathecal-pump")
    assert code == 0
    # 8 pump patients, all due by 2025-10-28; 5 answered: 62% < 80%, so warned.
    assert "Intrathecal pump (intrathecal-pump): 8 patients with a baseline" in out
    assert "5 of 8 patients due answered" in out
    assert "may overstate" in out
    assert "missing = not improved" in out
    assert "less pain: NRS pain" in out
    assert "95% Wilson score intervals" in out
    assert "PROMIS items are copyrighted" in out


def test_report_all_procedures_with_charts_and_pdf(tmp_path: Path) -> None:
    chart = tmp_path / "shares.svg"
    pdf = tmp_path / "report.pdf"
    code, out, _ = run("report", DATA, "--chart", chart, "--pdf", pdf, "--json")
    assert code == 0
    payload = json.loads(out)
    assert [p["procedure"] for p in payload["procedures"]] == [
        "epidural-injection",
        "facet-joint-injection",
        "intrathecal-pump",
    ]
    written = [Path(p) for p in payload["written"]]
    assert tmp_path / "shares-facet-joint-injection-3-months.svg" in written
    assert all(p.exists() for p in written)
    assert pdf.read_bytes().startswith(b"%PDF-")


def test_report_period_and_single_chart(tmp_path: Path) -> None:
    # Baselines from 2025-01-01 to 2025-03-31 among facet patients: P010 (03-09), P012 (02-12),
    # P017 (02-27); P010 and P012 answered (PGIC 1 and 1): improved 2 of 2, 2 of 3 due.
    chart = tmp_path / "facet.png"
    code, out, _ = run(
        "report",
        DATA,
        "--procedure",
        "facet-joint-injection",
        "--from",
        "2025-01-01",
        "--to",
        "2025-03-31",
        "--chart",
        chart,
        "--json",
    )
    assert code == 0
    t = json.loads(out)["procedures"][0]["timepoints"][0]
    improved = next(s for s in t["shares"] if s["key"] == "improved")
    assert improved["completers_only"]["successes"] == 2 and improved["completers_only"]["n"] == 2
    assert improved["missing_as_not_improved"]["n"] == 3
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_bad_csv_names_every_bad_row_and_reports_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    lines = DATA.read_text().splitlines()
    lines[1] = lines[1].replace(",7,,,", ",12,,,", 1)  # P001 baseline NRS 12
    lines.append(lines[2])  # a duplicate of P001's 3-month row (line 53)
    bad.write_text("\n".join(lines) + "\n")
    code, out, err = run("report", bad)
    assert code == 2
    assert out == ""
    assert "line 2, column nrs_pain: 12 is out of range" in err
    assert "line 53: duplicate response" in err
    code, out, _ = run("report", bad, "--json")
    payload = json.loads(out)
    assert code == 2 and payload["ok"] is False
    assert {e["field"] for e in payload["errors"]} >= {"line 2, column nrs_pain", "line 53"}


def test_bad_options_are_refused(tmp_path: Path) -> None:
    for args, field in (
        (["--from", "2025-02-30"], "--from"),
        (["--procedure", "Facet Joint"], "--procedure"),
        (["--procedure", "spinal-cord-stimulator"], "--procedure"),
        (["--chart", str(tmp_path / "x.jpg")], "--chart"),
        (["--pdf", str(tmp_path / "x.png")], "--pdf"),
        (["--from", "2025-03-01", "--to", "2025-01-01"], "period"),
        (["--timepoint", "soon"], "timepoint"),
    ):
        code, out, _ = run("report", DATA, *args, "--json")
        assert code == 2, args
        assert json.loads(out)["errors"][0]["field"] == field, args
    code, _, err = run("report", tmp_path / "missing.csv")
    assert code == 2 and "does not exist" in err


def test_patient_course_text_json_and_chart(tmp_path: Path) -> None:
    code, out, _ = run("patient", DATA, "--subject", "P001", "--procedure", "intrathecal-pump")
    assert code == 0
    assert "Pain, NRS 0-10 (lower is better): baseline 7, 3 months 1 (change -6)" in out
    chart = tmp_path / "p001.svg"
    code, out, _ = run(
        "patient",
        DATA,
        "--subject",
        "P024",
        "--procedure",
        "epidural-injection",
        "--chart",
        chart,
        "--json",
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["side_effects"][0]["review"]  # new numbness or weakness
    assert b"<svg" in chart.read_bytes()[:500]


def test_instruments_list_their_licences() -> None:
    code, out, _ = run("instruments", "--json")
    assert code == 0
    instruments = {i["key"]: i for i in json.loads(out)["instruments"]}
    assert instruments["promis-global-10"]["licence"]["clinic_must_check"] is True
    assert len(instruments["promis-global-10"]["items"]) == 10
    code, out, _ = run("instruments")
    assert "the clinic must check these terms itself" in out


def test_deidentify_then_report(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("a-long-clinic-secret-key\n")
    out_csv = tmp_path / "deid.csv"
    code, out, _ = run("deidentify", DATA, "--key-file", key, "--out", out_csv)
    assert code == 0 and "wrote" in out
    text = out_csv.read_text()
    assert "P001" not in text and "collected_on" not in text
    code, out, _ = run("report", out_csv, "--json")
    assert code == 0
    assert json.loads(out)["as_of"] is None  # no dates: every follow-up counts as due
    code, out, _ = run("report", out_csv, "--from", "2025-01-01", "--json")
    assert code == 2 and "no dated baseline" in json.loads(out)["errors"][0]["message"]
    key.write_text("short")
    code, _, err = run("deidentify", DATA, "--key-file", key)
    assert code == 2 and "at least 16 bytes" in err


def test_fhir_export_import_round_trip(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.json"
    code, _, _ = run("fhir", "export", DATA, "--out", bundle)
    assert code == 0
    assert json.loads(bundle.read_text())["resourceType"] == "Bundle"
    back = tmp_path / "back.csv"
    code, out, _ = run("fhir", "import", bundle, "--csv-out", back, "--json")
    assert code == 0 and json.loads(out)["responses"] == 165
    code, out, _ = run("report", back, "--procedure", "facet-joint-injection", "--json")
    t = json.loads(out)["procedures"][0]["timepoints"][0]
    assert (t["due"], t["responded"]) == (11, 9)


def test_fhir_questionnaire_export_and_check(tmp_path: Path) -> None:
    q = tmp_path / "promis.json"
    code, _, _ = run("fhir", "questionnaire", "promis-global-10", "--out", q)
    assert code == 0
    code, out, _ = run("fhir", "import", q)
    assert code == 0 and "matches promis-global-10" in out
    code, out, _ = run("fhir", "questionnaire", "all")
    assert code == 0 and len(json.loads(out)["entry"]) == 7  # with MAS and PSFS
    code, _, err = run("fhir", "questionnaire", "sf-36")
    assert code == 2 and "unknown 'sf-36'" in err
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    code, _, err = run("fhir", "import", broken)
    assert code == 2 and "not valid JSON" in err


def test_registered_in_the_itp_command_without_tracebacks() -> None:
    itp = Path(sys.executable).parent / "itp"
    ok = subprocess.run(
        [str(itp), "outcomes", "report", str(DATA), "--procedure", "epidural-injection"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "Epidural injection (epidural-injection): 10 patients with a baseline" in ok.stdout
    bad = subprocess.run(
        [str(itp), "outcomes", "report", str(EXAMPLES / "presses.txt")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert "Traceback" not in bad.stdout + bad.stderr
