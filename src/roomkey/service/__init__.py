"""Use cases of the roomkey server over storage: keys, rooms, roles, tokens, revocations, audit.

Nothing here speaks HTTP; :mod:`roomkey.api` and the CLI call into :class:`RoomkeyService`, and
reach the storage only through it (the records it hands back are named here for their types).
"""

from roomkey.errors import AuthenticationError, ForbiddenError
from roomkey.service.auth import Caller
from roomkey.service.core import RoomkeyService, open_secret_box, upgrade_database
from roomkey.service.projects import Bootstrap
from roomkey.service.settings import ServerSettings, load_settings, settings_table
from roomkey.service.tokens import TokenRequest, VerifyOutcome
from roomkey.store import BanRecord, ProjectRecord, RoleRecord, RoomRecord

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
