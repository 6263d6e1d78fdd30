"""Ejection at token expiry (opt-in per project or room, Daily's ``eject_at_token_exp``).

By the seed's rule a token is checked once, when its holder joins; a room that sets
``eject_at_token_exp`` ends a session instead when the token it joined (or last refreshed) with
expires, after a ``token_expiring`` warning ahead of it. Refreshing moves the deadline.
"""

from __future__ import annotations

from collections.abc import Callable

from roomkey.service.admission.events import EventType, only
from roomkey.service.admission.rules import RoomRules
from roomkey.service.admission.sessions import Session, SessionStatus

WARN_AHEAD_S = 60

# what the service offers this module: end a session, publish to it
End = Callable[[Session, SessionStatus, str], None]
Publish = Callable[..., object]


class TokenExpiry:
    """Warns and then ends admitted sessions whose token expired, where the room asks for it."""

    def __init__(self, warn_ahead_s: int = WARN_AHEAD_S) -> None:
        self.warn_ahead_s = warn_ahead_s
        self._warned: dict[str, int] = {}  # session id -> the expiry it was warned about

    def check(
        self,
        rooms: list[tuple[tuple[str, str], list[Session]]],
        rules_of: Callable[[str, str], RoomRules],
        end: End,
        publish: Publish,
        now: float,
    ) -> int:
        """In the rooms that eject (``rooms``: each room's admitted sessions), warn the
        sessions whose token expires within ``warn_ahead_s`` and end the expired ones
        (``removed``, reason ``token_expired``); how many ended. A room that does not eject
        costs one look at its rules, whatever its size."""
        ended = 0
        for (project_id, room), sessions in rooms:
            if not rules_of(project_id, room).eject_at_token_exp:
                continue
            for session in sessions:
                ended += self._check_one(session, end, publish, now)
        return ended

    def _check_one(self, session: Session, end: End, publish: Publish, now: float) -> int:
        expires = session.token_expires_at
        if session.status is not SessionStatus.ADMITTED or expires is None:
            return 0
        if now >= expires:
            self._warned.pop(session.id, None)
            end(session, SessionStatus.REMOVED, "token_expired")
            return 1
        if now >= expires - self.warn_ahead_s and self._warned.get(session.id) != expires:
            self._warned[session.id] = expires
            data = {"expires_at": expires, "seconds_left": int(expires - now)}
            publish(session, EventType.TOKEN_EXPIRING, data, only(session.id))
        return 0
