"""Use cases of the roomkey server over storage: keys, rooms, roles, tokens, revocations, audit.

Nothing here speaks HTTP; :mod:`roomkey.api` and the CLI call into :class:`RoomkeyService`.
"""

from roomkey.errors import AuthenticationError, ForbiddenError
from roomkey.service.auth import Caller
from roomkey.service.core import Bootstrap, RoomkeyService, open_secret_box
from roomkey.service.settings import ServerSettings, load_settings, settings_table
from roomkey.service.tokens import TokenRequest, VerifyOutcome

__all__ = [
    "AuthenticationError",
    "Bootstrap",
    "Caller",
    "ForbiddenError",
    "RoomkeyService",
    "ServerSettings",
    "TokenRequest",
    "VerifyOutcome",
    "load_settings",
    "open_secret_box",
    "settings_table",
]
