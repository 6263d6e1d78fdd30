"""The dashboard's use cases: sessions, the inspector, the playground (no HTTP here).

:class:`DashboardService` is built over a running :class:`~roomkey.service.RoomkeyService`
and reaches everything through it: the same issuing path, verifier, revocations and checks as
the API.
"""

from __future__ import annotations

from roomkey.service.core import RoomkeyService
from roomkey.service.dashboard.explain import Explanation, Moment, Step, TokenExplainer
from roomkey.service.dashboard.links import LINK_TTL_S, SignInLinks
from roomkey.service.dashboard.playground import (
    PLAYGROUND_MAX_TTL_S,
    Playground,
    PlaygroundToken,
)
from roomkey.service.dashboard.sessions import (
    SESSION_MAX_TTL_S,
    DashboardSession,
    DashboardSessions,
    SignedIn,
    SignInLink,
)
from roomkey.service.dashboard.words import duration_words, grant_words, moment_words


class DashboardService:
    """Sessions, inspector and playground over one server's service."""

    def __init__(self, service: RoomkeyService) -> None:
        ctx = service.ctx
        self.service = service
        self.sessions = DashboardSessions(
            service.tokens,
            service.revocations,
            service.authenticate,
            ctx.box.derive_key,
            lambda claims, kid: ctx.state.check_revoked(claims, kid),
            clock=lambda: ctx.clock(),
        )
        self.explainer = TokenExplainer(service.tokens, service.keys)
        self.playground = Playground(service.tokens)

    def now(self) -> float:
        """The server's current time (its injected clock)."""
        return self.service.ctx.clock()


__all__ = [
    "LINK_TTL_S",
    "PLAYGROUND_MAX_TTL_S",
    "SESSION_MAX_TTL_S",
    "DashboardService",
    "DashboardSession",
    "DashboardSessions",
    "Explanation",
    "Moment",
    "Playground",
    "PlaygroundToken",
    "SignInLink",
    "SignInLinks",
    "SignedIn",
    "Step",
    "TokenExplainer",
    "duration_words",
    "grant_words",
    "moment_words",
]
