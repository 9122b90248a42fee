"""What a refill puts in, as a test types it into the wizard: a lot and expiry for every drug the
page asks about, and who compounded (the wizard requires them to save)."""

from __future__ import annotations

import re

COMPOUNDER = "Priya Pharmacist"
EXPIRY = "2027-06-30"  # after every fill of the scenarios (NOW is 2026-03-02)


def contents(page_text: str) -> dict[str, str]:
    drugs = re.findall(r'name="lot_([a-z0-9-]+)"', page_text)
    return {
        "compounded_by": COMPOUNDER,
        **{f"lot_{d}": f"L-{d[:4].upper()}-1" for d in drugs},
        **{f"expiry_{d}": EXPIRY for d in drugs},
    }
