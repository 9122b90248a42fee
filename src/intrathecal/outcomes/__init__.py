"""Outcomes registry: instruments, scoring and cohort statistics (pure: no I/O, no clock).

The public API, for the clinic web app and the CLI:

- ``INSTRUMENTS`` (key -> ``Instrument``: items, allowed answers, labels, licence, source) and
  ``validate_answers(instrument, answers) -> Scored`` (raises ``InvalidOutcomesError``, an
  ``InputError``, naming every bad item);
- ``Response`` records; ``check_response``, ``check_new_response(existing, new)`` and
  ``validate_responses`` (duplicates, follow-up before baseline);
- ``procedure_statistics(responses, procedure, period=, as_of=)`` and ``practice_statistics``:
  every share with its definition, 95% Wilson interval, completers-only and
  missing-as-not-improved counts, and warnings;
- ``patient_course(responses, subject, procedure)``: one patient's measures over time;
- CSV (``parse_responses_csv``, ``format_responses_csv``) and FHIR R4 (``questionnaire``,
  ``questionnaire_response``, ``responses_bundle``, ``responses_from_fhir``,
  ``instrument_from_questionnaire``) as plain text and dicts.
"""

from intrathecal.outcomes.course import MEASURES, PatientCourse, patient_course
from intrathecal.outcomes.csvfile import COLUMNS, format_responses_csv, parse_responses_csv
from intrathecal.outcomes.errors import InvalidOutcomesError
from intrathecal.outcomes.fhir import (
    instrument_from_questionnaire,
    questionnaire,
    questionnaire_response,
    responses_bundle,
    responses_from_fhir,
)
from intrathecal.outcomes.instruments import (
    BASELINE_INSTRUMENTS,
    FOLLOW_UP_INSTRUMENTS,
    INSTRUMENTS,
    Instrument,
    Item,
    ItemKind,
)
from intrathecal.outcomes.records import BASELINE, Period, Response
from intrathecal.outcomes.responders import SHARES, ShareDefinition
from intrathecal.outcomes.scoring import Scored, validate_answers
from intrathecal.outcomes.serialize import (
    course_to_dict,
    instrument_to_dict,
    statistics_to_dict,
)
from intrathecal.outcomes.statistics import (
    ProcedureStatistics,
    Proportion,
    ShareResult,
    TimepointStatistics,
    practice_statistics,
    procedure_statistics,
    wilson_interval,
)
from intrathecal.outcomes.timepoints import (
    PROCEDURES,
    follow_ups_for,
    parse_timepoint,
    procedure_label,
)
from intrathecal.outcomes.validation import (
    Checked,
    check_new_response,
    check_response,
    validate_responses,
)

__all__ = [
    "BASELINE",
    "BASELINE_INSTRUMENTS",
    "COLUMNS",
    "FOLLOW_UP_INSTRUMENTS",
    "INSTRUMENTS",
    "MEASURES",
    "PROCEDURES",
    "SHARES",
    "Checked",
    "Instrument",
    "InvalidOutcomesError",
    "Item",
    "ItemKind",
    "PatientCourse",
    "Period",
    "ProcedureStatistics",
    "Proportion",
    "Response",
    "Scored",
    "ShareDefinition",
    "ShareResult",
    "TimepointStatistics",
    "check_new_response",
    "check_response",
    "course_to_dict",
    "follow_ups_for",
    "format_responses_csv",
    "instrument_from_questionnaire",
    "instrument_to_dict",
    "parse_responses_csv",
    "parse_timepoint",
    "patient_course",
    "practice_statistics",
    "procedure_label",
    "procedure_statistics",
    "questionnaire",
    "questionnaire_response",
    "responses_bundle",
    "responses_from_fhir",
    "statistics_to_dict",
    "validate_answers",
    "validate_responses",
    "wilson_interval",
]
