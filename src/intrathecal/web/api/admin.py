"""Users, sessions and the audit log under /api/v1 (admin): accounts and their roles, who is
signed in, and the audit chain with its check. Each dependency is declared once, as a type."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intrathecal.store import audit, users
from intrathecal.store.models import AuditEntry, User
from intrathecal.web.api import schemas, serialize
from intrathecal.web.api.answers import signed_in
from intrathecal.web.api.routes import Limit, Offset, page
from intrathecal.web.deps import Actor, get_db, now, read_only, require

router = APIRouter(prefix="/api/v1")

Db = Annotated[Session, Depends(get_db)]
Admin = Annotated[Actor, Depends(require("users.manage"))]
# Routes that only check the permission name it on the decorator.
MANAGE_USERS = Depends(require("users.manage"))
READ_AUDIT = Depends(require("audit.read"))


@router.get(
    "/users",
    tags=["admin"],
    response_model=schemas.UsersAnswer,
    responses=signed_in(),
    dependencies=[MANAGE_USERS],
)
@read_only
def list_users(db: Db) -> dict[str, Any]:
    rows = db.execute(select(User).order_by(User.id)).scalars()
    return {"ok": True, "users": [serialize.user(u) for u in rows]}


@router.post(
    "/users",
    tags=["admin"],
    status_code=201,
    response_model=schemas.UserAnswer,
    responses=signed_in(),
)
def create_user(
    body: schemas.UserBody,
    request: Request,
    db: Db,
    actor: Admin,
) -> dict[str, Any]:
    row = users.create_user(
        db, body.username, body.full_name, body.role, body.password, now(request), actor.name
    )
    db.commit()
    return {"ok": True, "user": serialize.user(row)}


def _user_action(
    request: Request, db: Session, actor: Actor, user_id: int, action: str, value: Any = None
) -> dict[str, Any]:
    """One admin action on an account, audited, in one transaction."""
    user = users.require_user(db, user_id)
    at, by = now(request), actor.name
    ended = 0
    if action in ("deactivate", "activate"):
        ended = users.set_active(db, user, action == "activate", at, by)
    elif action == "role":
        users.set_role(db, user, value, at, by)
    elif action == "password":
        ended = users.reset_password(db, user, value, at, by)
    else:
        ended = users.end_sessions(db, user, at, by)
    db.commit()
    return {"ok": True, "user": serialize.user(user), "sessions_ended": ended}


ADMIN_ACTION: dict[str, Any] = {
    "tags": ["admin"],
    "response_model": schemas.EndedAnswer,
    "responses": signed_in(404),
}


@router.post("/users/{user_id}/deactivate", **ADMIN_ACTION)
def deactivate_user(
    user_id: int,
    request: Request,
    db: Db,
    actor: Admin,
) -> dict[str, Any]:
    """The user cannot sign in any more and every session of theirs ends."""
    return _user_action(request, db, actor, user_id, "deactivate")


@router.post("/users/{user_id}/activate", **ADMIN_ACTION)
def activate_user(
    user_id: int,
    request: Request,
    db: Db,
    actor: Admin,
) -> dict[str, Any]:
    return _user_action(request, db, actor, user_id, "activate")


@router.post("/users/{user_id}/role", **ADMIN_ACTION)
def change_role(
    user_id: int,
    body: schemas.RoleBody,
    request: Request,
    db: Db,
    actor: Admin,
) -> dict[str, Any]:
    """Takes effect on the user's next request (the role is read with every request)."""
    return _user_action(request, db, actor, user_id, "role", body.role)


@router.post("/users/{user_id}/password", **ADMIN_ACTION)
def reset_password(
    user_id: int,
    body: schemas.PasswordBody,
    request: Request,
    db: Db,
    actor: Admin,
) -> dict[str, Any]:
    """A new password (same rule as a new account); the user's sessions end."""
    return _user_action(request, db, actor, user_id, "password", body.password)


@router.post("/users/{user_id}/end-sessions", **ADMIN_ACTION)
def end_user_sessions(
    user_id: int,
    request: Request,
    db: Db,
    actor: Admin,
) -> dict[str, Any]:
    return _user_action(request, db, actor, user_id, "end-sessions")


@router.get(
    "/sessions",
    tags=["admin"],
    response_model=schemas.SessionsAnswer,
    responses=signed_in(),
    dependencies=[MANAGE_USERS],
)
@read_only
def list_sessions(
    request: Request,
    db: Db,
) -> dict[str, Any]:
    """Sessions not yet expired, newest first."""
    rows = users.active_sessions(db, now(request))
    return {
        "ok": True,
        "sessions": [
            {
                "username": r.username,
                "role": r.role,
                "created_at": serialize.iso(r.created_at),
                "expires_at": serialize.iso(r.expires_at),
            }
            for r in rows
        ],
    }


@router.get(
    "/audit",
    tags=["admin"],
    response_model=schemas.AuditAnswer,
    responses=signed_in(),
    dependencies=[READ_AUDIT],
)
@read_only
def list_audit(
    db: Db,
    limit: int = Limit,
    offset: int = Offset,
) -> dict[str, Any]:
    """Newest first."""
    total = db.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    rows = db.execute(
        select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit).offset(offset)
    ).scalars()
    return {"ok": True, **page([serialize.audit_entry(r) for r in rows], total, limit, offset)}


@router.get(
    "/audit/verify",
    tags=["admin"],
    response_model=schemas.VerifyAnswer,
    responses=signed_in(),
    dependencies=[READ_AUDIT],
)
@read_only
def verify_audit(
    db: Db,
) -> dict[str, Any]:
    result = audit.verify(db)
    return {
        "ok": True,
        "intact": result.ok,
        "entries": result.entries,
        "first_bad_seq": result.first_bad_seq,
        "message": result.problem,
    }
