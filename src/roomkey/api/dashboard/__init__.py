"""The dashboard, served by ``roomkey serve`` itself under ``/dashboard``: server-rendered pages
(Jinja2), htmx and a small script of its own, every asset shipped in the package (no CDN, no
build step). See docs/dashboard.md."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from roomkey.api.dashboard import manage, pages, roles, rooms, webhooks
from roomkey.api.dashboard.web import PREFIX

STATIC = Path(__file__).resolve().parent / "static"
STATIC_PATH = f"{PREFIX}/static"
HTMX_VERSION = "2.0.11"  # the npm package htmx.org that static/htmx.min.js comes from
ROUTERS = tuple(m.router for m in (pages, manage, rooms, roles, webhooks))


def install_dashboard(app: FastAPI) -> None:
    """Serve the dashboard's pages and its packaged assets."""
    for router in ROUTERS:
        app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC), name="dashboard-assets")


__all__ = ["HTMX_VERSION", "ROUTERS", "STATIC", "STATIC_PATH", "install_dashboard"]
