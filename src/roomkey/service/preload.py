"""The revocations a node reads ahead of its start (see :mod:`roomkey.store.preload`).

``roomkey serve`` calls :func:`begin_preload` as soon as its settings are known, before it
imports the server, and hands the preload to the service (``RoomkeyService.open(preload=...)``).
"""

from __future__ import annotations

from roomkey.service.settings import ServerSettings
from roomkey.store.preload import RevocationPreload


def begin_preload(settings: ServerSettings) -> RevocationPreload | None:
    """Begin reading the revocations of the settings' database on a thread of its own; None
    when it cannot even begin (the service then loads them itself, and reports what is wrong)."""
    return RevocationPreload.begin(settings.resolved_database_url())


__all__ = ["RevocationPreload", "begin_preload"]
