"""Every router of the app, in inclusion order (read by the app factory and the access table)."""

from __future__ import annotations

from roomkey.api.dashboard import links as dashboard_links
from roomkey.api.routers import (
    admission,
    bans,
    events,
    health,
    keys,
    project,
    revocations,
    roles,
    rooms,
    tokens,
    webhooks,
)

ROUTERS = tuple(
    m.router
    for m in (
        tokens,
        keys,
        rooms,
        admission,
        bans,
        roles,
        revocations,
        webhooks,
        project,
        health,
        events,
        dashboard_links,
    )
)

__all__ = ["ROUTERS"]
