"""Reports: printable PDFs (a patient's course, a practice's outcomes) and de-identified CSV."""

from intrathecal.reports.export import deidentified_csv, pseudonym
from intrathecal.reports.patient import PatientReport, patient_report_pdf
from intrathecal.reports.pdf import Table
from intrathecal.reports.practice import practice_report_pdf

__all__ = [
    "PatientReport",
    "Table",
    "deidentified_csv",
    "patient_report_pdf",
    "practice_report_pdf",
    "pseudonym",
]
