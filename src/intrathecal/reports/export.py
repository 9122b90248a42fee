"""De-identified CSV export: stable pseudonyms, no dates, no free text.

What is done and why:
- the subject id is replaced by ``S-`` + the first 16 hex digits of HMAC-SHA256(clinic key,
  id): the same patient gets the same pseudonym in every export made with the same key (so
  exports can be joined), and without the key the pseudonym cannot be traced back (a plain
  hash of a short id could be reversed by trying every id);
- calendar dates are left out: each response keeps only its days from baseline, which is all
  the statistics need. Dates of treatment are identifying (HIPAA Safe Harbor lists every date
  element but the year), and shifting them would still leak intervals between patients. A
  report for a period must therefore be run on the clinic's own export, inside the clinic;
- free text (``side_effects_other``) is dropped: patients write names, places and dates in it.
Names and dates of birth are never in the registry's records in the first place.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import replace

from intrathecal.outcomes.csvfile import format_responses_csv
from intrathecal.outcomes.records import Response
from intrathecal.units import InputError

MIN_KEY_BYTES = 16


def pseudonym(subject: str, key: bytes) -> str:
    if len(key) < MIN_KEY_BYTES:
        raise InputError(
            "key", f"a pseudonymisation key needs at least {MIN_KEY_BYTES} bytes, got {len(key)}"
        )
    digest = hmac.new(key, subject.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"S-{digest[:16]}"


def deidentified_csv(responses: Sequence[Response], key: bytes) -> str:
    """The responses in the CSV columns of ``outcomes.csvfile``, de-identified as above."""
    cleaned = [
        replace(
            r,
            subject=pseudonym(r.subject, key),
            collected_on=None,
            answers={
                k: v
                for k, v in r.answers.items()
                if not (r.instrument == "side-effects" and k == "other")
            },
        )
        for r in responses
    ]
    return format_responses_csv(cleaned, leave_out=("collected_on", "side_effects_other"))
