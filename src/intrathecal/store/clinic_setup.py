"""A real clinic's first start (``itp clinic init``): the first admin, no demo data.

A database set up this way is marked (``clinic_settings.setup = "init"``), and the demo seed
refuses it: the demo users' passwords are published in the manual, so they must never reach a
clinic holding real patients.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intrathecal.store import users
from intrathecal.store.models import ClinicSetting, Patient, Role, User

SETUP = "setup"  # clinic_settings name
REAL = "init"
BY = "itp clinic init"


class AlreadySetUpError(Exception):
    """The database is not empty: nothing was changed."""


def is_real_clinic(session: Session) -> bool:
    row = session.get(ClinicSetting, SETUP)
    return row is not None and row.value == REAL


def initialise(
    session: Session, username: str, full_name: str, password: str, now: datetime
) -> User:
    """The first admin of an empty clinic (no users, no patients); the caller commits."""
    people = session.execute(select(func.count()).select_from(User)).scalar_one()
    patients = session.execute(select(func.count()).select_from(Patient)).scalar_one()
    if people or patients:
        raise AlreadySetUpError(
            f"this database already has {people} users and {patients} patients; `itp clinic "
            "init` sets up an empty one (add users on the admin's Users page)"
        )
    admin = users.create_user(session, username, full_name, Role.ADMIN.value, password, now, BY)
    session.add(ClinicSetting(name=SETUP, value=REAL))
    return admin
