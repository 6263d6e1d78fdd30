"""Admission: a participant joins a room with its token and is admitted, held in the lobby, or
refused; moderators act on live sessions; everyone in the room hears about it over one ordered
event stream per room.

Live state (sessions, lobby, event streams) sits behind :class:`AdmissionBus`, with an
in-memory implementation for one node; bans and room locks are persisted like revocations.
"""

from roomkey.service.admission.bus import AdmissionBus, InMemoryBus, Subscription
from roomkey.service.admission.credentials import SessionCredentials
from roomkey.service.admission.events import Event, EventType
from roomkey.service.admission.sessions import Session, SessionRegistry, SessionStatus, accepts

__all__ = [
    "AdmissionBus",
    "Event",
    "EventType",
    "InMemoryBus",
    "Session",
    "SessionCredentials",
    "SessionRegistry",
    "SessionStatus",
    "Subscription",
    "accepts",
]
