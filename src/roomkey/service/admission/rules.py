"""The rules of a room's admission: its settings, who acts, and what a moderator may change.

Settings come from the project (``admit_policy``, ``platform_token``, ``knock_timeout_s``) and
a room may override them in its metadata's ``admission`` object. An :class:`Actor` is whoever
acts on a room: an admitted session of that room, or a server token with ``rooms:moderate``
for it (which holds every right in the room).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from roomkey.errors import ForbiddenError, ModerationRefusedError
from roomkey.grants import Grant, JoinMode, Scope
from roomkey.roles import Role
from roomkey.service.admission.sessions import Session
from roomkey.service.auth import Caller
from roomkey.store import ProjectSettings, RoomRecord

ADMIT_POLICIES = ("direct", "moderators", "admins")
PLATFORM_FORMATS = ("native", "livekit", "videosdk", "huddle01")
# a server moderator holds every right of the room
SERVER_GRANT = Grant(admin=True, moderate=True)


@dataclass(frozen=True, slots=True)
class RoomRules:
    """A room's admission settings after the room's overrides."""

    admit_policy: str = "direct"
    platform_token: str | None = None
    knock_timeout_s: int = 300
    # a locked room holds joiners in its lobby; when false it refuses them (room_locked)
    locked_lobby: bool = True
    # end a session when its token expires (Daily's eject_at_token_exp), warning ahead of it
    eject_at_token_exp: bool = False


def rules_for(settings: ProjectSettings, room: RoomRecord | None) -> RoomRules:
    """The project's settings, overridden by the room's metadata ``admission`` object.

    Override values that are not valid are ignored (the project's apply).
    """
    rules = RoomRules(
        settings.admit_policy,
        settings.platform_token,
        settings.knock_timeout_s,
        settings.locked_lobby,
        settings.eject_at_token_exp,
    )
    override = room.metadata.get("admission") if room is not None else None
    if not isinstance(override, Mapping):
        return rules
    return RoomRules(
        _pick(override, "admit_policy", ADMIT_POLICIES, rules.admit_policy),
        _pick(override, "platform_token", PLATFORM_FORMATS, rules.platform_token),
        _timeout(override.get("knock_timeout_s"), rules.knock_timeout_s),
        _flag(override.get("locked_lobby"), rules.locked_lobby),
        _flag(override.get("eject_at_token_exp"), rules.eject_at_token_exp),
    )


def _pick(override: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: Any) -> Any:
    value = override.get(name, default)
    return value if value in allowed or (value is None and name == "platform_token") else default


def _timeout(value: object, default: int) -> int:
    return value if type(value) is int and 5 <= value <= 24 * 3600 else default


def _flag(value: object, default: bool) -> bool:
    return value if isinstance(value, bool) else default


def grant_may_admit(grant: Grant, policy: str) -> bool:
    """Whether a holder of ``grant``, once admitted, may decide knocks under ``policy``
    (the rule of :meth:`Session.may_admit`)."""
    if policy == "admins":
        return grant.admin
    if policy == "moderators":
        return grant.moderate
    return grant.join is JoinMode.DIRECT


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts on a room: an admitted session of it, or a server caller (``rooms:moderate``)."""

    project_id: str
    room: str
    session: Session | None = None
    caller: Caller | None = None
    # a participant token used directly (LiveKit's roomAdmin): its own grant and role, not a
    # server's rights
    token_grant: Grant | None = None
    token_role: str | None = None

    @property
    def grant(self) -> Grant:
        """The actor's rights in the room."""
        if self.session is not None:
            return self.session.grant
        return self.token_grant if self.token_grant is not None else SERVER_GRANT

    @property
    def role(self) -> str | None:
        """The actor's role name (None for a server caller)."""
        return self.session.role if self.session is not None else self.token_role

    @property
    def label(self) -> str:
        """How the actor is named in events (``by``)."""
        if self.session is not None:
            return self.session.identity
        return self.caller.label if self.caller is not None else "server"

    def may_admit(self, policy: str) -> bool:
        """Whether the actor may decide knocks under the room's ``policy``."""
        if self.session is not None:
            return self.session.may_admit(policy)
        return self.token_grant is None or grant_may_admit(self.token_grant, policy)

    def require(self, right: str) -> None:
        """Raise :class:`ForbiddenError` (``details.missing``) unless the grant has ``right``
        (``moderate`` or ``admin``)."""
        if not getattr(self.grant, right):
            raise ForbiddenError(f"this session lacks the right {right!r}", missing=right)

    def require_admit(self, policy: str) -> None:
        """Raise :class:`ForbiddenError` unless the actor may decide knocks."""
        if not self.may_admit(policy):
            raise ForbiddenError(
                f"this session may not admit or reject (the room's admit policy is {policy!r})",
                missing="admit",
                admit_policy=policy,
            )


def check_acts_on(actor: Actor, target: Session) -> None:
    """A coHost never acts on the host; raises :class:`ModerationRefusedError`."""
    if actor.role == Role.CO_HOST.value and target.role == Role.HOST.value:
        raise ModerationRefusedError("a coHost cannot act on the host", rule="cohost_on_host")


def check_change(actor: Actor, target: Session, grant: Grant, role: str | None) -> None:
    """The server's rules for a permission change of ``target`` to ``grant`` (and ``role``).

    Nobody grants more than they hold; a coHost cannot make anyone host nor act on the host; a
    participant cannot moderate itself up. Raises :class:`ModerationRefusedError`.
    """
    check_acts_on(actor, target)
    if actor.role == Role.CO_HOST.value and role == Role.HOST.value:
        raise ModerationRefusedError("a coHost cannot make anyone host", rule="cohost_makes_host")
    if actor.session is target and not grant.allows_at_most(target.grant):
        raise ModerationRefusedError(
            "a participant cannot raise its own rights", rule="self_escalation"
        )
    if not grant.allows_at_most(actor.grant):
        raise ModerationRefusedError("nobody grants more than they hold", rule="beyond_own_rights")


def participant_grant(grant: Grant) -> Grant:
    """``grant`` as a participant (room-scope) token carries it: no server rights."""
    if grant.scope == {Scope.ROOM} and not grant.capabilities:
        return grant
    return grant.replace(scope=frozenset({Scope.ROOM}), capabilities=frozenset())
