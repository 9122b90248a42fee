"""A clinic process that writes patients (each with its audit entry, as the app does) until it
is killed; it prints the id of every patient once its transaction has committed."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime

from intrathecal.store import records
from intrathecal.store.db import open_database
from intrathecal.store.models import Patient


def main(url: str) -> None:
    _, sessions = open_database(url)
    index = 0
    while True:
        index += 1
        now = datetime.now(UTC)
        with sessions.begin() as session:
            row = Patient(
                mrn=f"W{index:07d}",
                name=f"Writer Patient {index}",
                birth_date=date(1970, 1, 1),
                sex="female",
                created_at=now,
            )
            records.add(session, row, "writer", now, "patient.create")
            patient_id = row.id
        print(patient_id, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
