"""Use cases of the roomkey server over storage: keys, rooms, roles, tokens, revocations, audit.

Nothing here speaks HTTP; :mod:`roomkey.api` and the CLI call into :class:`RoomkeyService`, and
reach the storage only through it (the records it hands back are named here for their types).

The names below are imported when first used, not with the package: ``roomkey serve`` reads
its settings (:mod:`roomkey.service.settings`) and begins loading revocations before the rest
of the service, the store and the framework are imported (see :mod:`roomkey.store.preload`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roomkey.errors import AuthenticationError, ForbiddenError
    from roomkey.service.auth import Caller
    from roomkey.service.core import RoomkeyService, open_secret_box, upgrade_database
    from roomkey.service.projects import Bootstrap
    from roomkey.service.settings import ServerSettings, load_settings, settings_table
    from roomkey.service.tokens import TokenRequest, VerifyOutcome
    from roomkey.store import BanRecord, ProjectRecord, RoleRecord, RoomRecord

# each name, and the module it comes from
_SOURCES = {
    "AuthenticationError": "roomkey.errors",
    "BanRecord": "roomkey.store",
    "Bootstrap": "roomkey.service.projects",
    "Caller": "roomkey.service.auth",
    "ForbiddenError": "roomkey.errors",
    "ProjectRecord": "roomkey.store",
    "RoleRecord": "roomkey.store",
    "RoomRecord": "roomkey.store",
    "RoomkeyService": "roomkey.service.core",
    "ServerSettings": "roomkey.service.settings",
    "TokenRequest": "roomkey.service.tokens",
    "VerifyOutcome": "roomkey.service.tokens",
    "load_settings": "roomkey.service.settings",
    "open_secret_box": "roomkey.service.core",
    "settings_table": "roomkey.service.settings",
    "upgrade_database": "roomkey.service.core",
}

__all__ = [
    "AuthenticationError",
    "BanRecord",
    "Bootstrap",
    "Caller",
    "ForbiddenError",
    "ProjectRecord",
    "RoleRecord",
    "RoomRecord",
    "RoomkeyService",
    "ServerSettings",
    "TokenRequest",
    "VerifyOutcome",
    "load_settings",
    "open_secret_box",
    "settings_table",
    "upgrade_database",
]


def __getattr__(name: str) -> Any:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(source), name)
    globals()[name] = value  # the next use is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
