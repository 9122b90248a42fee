"""Pages that only read take no write lock (store/db.py): on SQLite a route not marked
``read_only`` begins its session with BEGIN IMMEDIATE and holds the clinic's one write lock to
the end of the request, so such pages ran one at a time across all workers (the refill wizard,
the statistics page and the PDFs did, issue 11). Every GET route is marked, or listed here
with the reason it writes."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter
from fastapi.routing import APIRoute

import intrathecal.web

# path -> why its session may write
WRITES = {
    "/patients/{patient_id}": "writes the chart-read audit entry, then reads read-only",
    "/api/v1/patients/{patient_id}": "writes the chart-read audit entry, then reads read-only",
    "/q/{token}": "a patient's questionnaire link: its opening is recorded",
    "/healthz": "no database session",
    "/readyz": "its own connection, no session",
}


def get_routes() -> list[tuple[str, APIRoute]]:
    found = []
    for info in pkgutil.walk_packages(intrathecal.web.__path__, "intrathecal.web."):
        if info.name == "intrathecal.web.main":
            continue  # the served app itself: importing it opens the default database
        module = importlib.import_module(info.name)
        router = getattr(module, "router", None)
        if not isinstance(router, APIRouter):
            continue
        for route in router.routes:
            if isinstance(route, APIRoute) and "GET" in route.methods:
                found.append((route.path, route))
    return found


def test_every_page_that_only_reads_is_marked_read_only() -> None:
    routes = get_routes()
    assert len(routes) > 40  # the walk found the app's routers
    unmarked = sorted(
        path
        for path, route in routes
        if not getattr(route.endpoint, "read_only", False) and path not in WRITES
    )
    assert unmarked == []


def test_the_daily_path_is_read_only() -> None:
    marked = {path for path, route in get_routes() if getattr(route.endpoint, "read_only", False)}
    daily = {
        "/",
        "/patients",
        "/patients/{patient_id}/program",
        "/patients/{patient_id}/refill",
        "/calendar",
        "/calendar/{day}",
        "/outcomes",
        "/patients/{patient_id}/reservoir.svg",
        "/patients/{patient_id}/doses.svg",
        "/patients/{patient_id}/report.pdf",
        "/outcomes/report.pdf",
    }
    assert daily <= marked, daily - marked
