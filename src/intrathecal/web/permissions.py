"""Who may do what: one table of role -> permissions, checked by one dependency on every route."""

from __future__ import annotations

from intrathecal.store.models import Role

PHYSICIAN, NURSE, PHARMACIST, VIEWER, ADMIN = (
    Role.PHYSICIAN.value,
    Role.NURSE.value,
    Role.PHARMACIST.value,
    Role.VIEWER.value,
    Role.ADMIN.value,
)
CLINICAL = frozenset({PHYSICIAN, NURSE, PHARMACIST, VIEWER})

# permission -> roles that hold it. The admin manages users and reads the audit log but does
# not read charts (least privilege); pharmacists read charts to compound the prescriptions
# but not patients' questionnaires (mood, function), which compounding does not need.
PERMISSIONS: dict[str, frozenset[str]] = {
    # Every signed-in user: see who they are, sign out (never behind a clinical permission).
    "account.self": frozenset({*CLINICAL, ADMIN}),
    "dashboard.read": CLINICAL,
    "chart.read": CLINICAL,
    "patient.write": frozenset({PHYSICIAN}),
    "program.review": frozenset({PHYSICIAN, NURSE, PHARMACIST}),
    "program.sign": frozenset({PHYSICIAN}),
    "program.apply": frozenset({PHYSICIAN, NURSE}),
    "refill.perform": frozenset({PHYSICIAN, NURSE}),
    "refill.void": frozenset({PHYSICIAN, NURSE}),
    "compounding.calculate": frozenset({PHYSICIAN, NURSE, PHARMACIST}),
    "alarm.write": frozenset({PHYSICIAN, NURSE}),
    "appointment.write": frozenset({PHYSICIAN, NURSE}),
    "adverse_event.write": frozenset({PHYSICIAN, NURSE}),
    "outcomes.read": frozenset({PHYSICIAN, NURSE, VIEWER}),
    "outcomes.write": frozenset({PHYSICIAN, NURSE}),
    "users.manage": frozenset({ADMIN}),
    "audit.read": frozenset({ADMIN}),
}

DESCRIPTIONS: dict[str, str] = {
    "account.self": "see who they are signed in as; sign out",
    "dashboard.read": "see the dashboard and the refill calendar",
    "chart.read": "open patient charts (each read is audited)",
    "patient.write": "add patients, indications, prior treatments, evaluations, trials, "
    "implants; record a patient's opioid status",
    "program.review": "run the program review (nothing is stored)",
    "program.sign": "prescribe: sign a new program version",
    "program.apply": "send a signed program version to the pump",
    "refill.perform": "perform and record refills",
    "refill.void": "void a wrong refill by a correction record (who, when, why)",
    "compounding.calculate": "compute compounding recipes",
    "alarm.write": "record and clear alarms",
    "appointment.write": "book appointments",
    "adverse_event.write": "record adverse events",
    "outcomes.read": "read questionnaires, a patient's course and the clinic's outcome "
    "statistics; download the reports and the de-identified export",
    "outcomes.write": "enter questionnaires and create one-time links for patients",
    "users.manage": "create, list and deactivate users, reset passwords, change roles, end "
    "sessions (all audited)",
    "audit.read": "read and verify the audit log",
}


def allowed(role: str, permission: str) -> bool:
    return role in PERMISSIONS[permission]


ROLE_ORDER = (PHYSICIAN, NURSE, PHARMACIST, VIEWER, ADMIN)


def role_table() -> str:
    """The role x permission table of docs/clinic.md, made from the two dicts above (a test checks
    that the manual holds exactly this)."""
    lines = [
        "| permission | may | " + " | ".join(ROLE_ORDER) + " |",
        "| --- | --- | " + " | ".join("---" for _ in ROLE_ORDER) + " |",
    ]
    for permission, roles in PERMISSIONS.items():
        marks = " | ".join("✓" if r in roles else "" for r in ROLE_ORDER)
        lines.append(f"| `{permission}` | {DESCRIPTIONS[permission]} | {marks} |")
    return "\n".join(lines)
