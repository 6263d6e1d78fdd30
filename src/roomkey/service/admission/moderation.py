"""Moderation of live sessions: mute and ask to unmute (``moderate``); remove (with a ban),
change a participant's role or permissions, lock and unlock the room (``admin``).

The rules are in :mod:`.rules`: nobody grants more than they hold, a coHost cannot make anyone
host nor act on the host, a participant cannot moderate itself up. Unmuting is only ever a
request the participant may accept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from roomkey.errors import NotInRoomError
from roomkey.grants import Grant, Source, parse_sources
from roomkey.minting import MintedToken
from roomkey.roles import merge_overrides, resolve_role
from roomkey.service.admission.events import EventType, only
from roomkey.service.admission.outcomes import tokens_from
from roomkey.service.admission.room_state import AdmissionCore
from roomkey.service.admission.rules import Actor, check_acts_on, check_change
from roomkey.service.admission.sessions import Session, SessionStatus
from roomkey.store import RoomRecord


@dataclass(frozen=True, slots=True)
class PermissionChange:
    """A permission change made: the session and the tokens that carry its new grant."""

    session: Session
    token: MintedToken
    participant_token: MintedToken | None = None


@dataclass(frozen=True, slots=True)
class Removal:
    """A removal: the session ended (None when the identity was not in the room) and the ban."""

    identity: str
    session: Session | None
    banned: bool


class Moderation:
    """Acts of moderators on a room's live sessions."""

    def __init__(self, admission: AdmissionCore) -> None:
        self.admission = admission

    async def mute(self, actor: Actor, identity: str, sources: Iterable[str]) -> Session:
        """Mute sources of an admitted participant (wherever its session lives); raises
        ForbiddenError, NotInRoomError, ModerationRefusedError, InvalidGrantError (an unknown
        source), AdmissionUnavailableError."""
        target = self._admitted_target(actor, "moderate", identity)
        muted = parse_sources(list(sources))
        if target.node is not None:
            args = {"sources": _names(muted), "by": actor.label}
            await self.admission.route(target, "mute", args)
        else:
            self.apply_mute(target, muted, actor.label)
        return target

    def apply_mute(self, target: Session, muted: frozenset[Source], by: str) -> None:
        """Mute sources of a session of this node and tell the room."""
        target.muted = target.muted | muted
        data = {"session_id": target.id, "identity": target.identity, "sources": _names(muted)}
        self.admission.publish(target, EventType.MUTED, {**data, "by": by})

    def request_unmute(self, actor: Actor, identity: str, sources: Iterable[str]) -> Session:
        """Ask a participant to unmute (never forced): ``unmute_requested`` to it alone."""
        target = self._admitted_target(actor, "moderate", identity)
        data = {"sources": _names(parse_sources(list(sources))), "by": actor.label}
        self.admission.publish(target, EventType.UNMUTE_REQUESTED, data, only(target.id))
        return target

    async def remove(
        self, actor: Actor, identity: str, *, ban: bool = False, reason: str = ""
    ) -> Removal:
        """End the identity's session (``removed``); with ``ban``, ban it from the room too
        (its tokens for the room revoked, admission and issuance refused until lifted).

        Raises ForbiddenError, NotInRoomError (not in the room and no ban asked),
        ModerationRefusedError.
        """
        actor.require("admin")
        self.admission.require_up()
        target = self.admission.registry.of_identity(actor.project_id, actor.room, identity)
        live = target if target is not None and target.live else None
        if live is None and not ban:
            self.admission.target(actor, identity)  # raises NotInRoomError
        if live is not None:
            check_acts_on(actor, live)
            cause = "banned" if ban else "removed"
            if live.node is not None:
                args = {"status": "removed", "reason": cause, "data": {"by": actor.label}}
                await self.admission.route(live, "end", args)
            else:
                self.admission.end(live, SessionStatus.REMOVED, cause, {"by": actor.label})
        if ban:
            await self.admission.bans.ban(
                actor.project_id, actor.room, identity, reason=reason, by=actor.label
            )
        return Removal(identity, live, ban)

    async def update(
        self,
        actor: Actor,
        identity: str,
        *,
        role: str | None = None,
        permissions: Mapping[str, Any] | None = None,
    ) -> PermissionChange:
        """Change an admitted participant's role and/or permissions; it receives
        ``permissions_updated`` with a new participant token (and platform token), the room
        ``participant_updated`` with its public form.

        Raises ForbiddenError, NotInRoomError, ModerationRefusedError, InvalidGrantError,
        InvalidRoleError, and the issuance errors of TokenService.
        """
        target = self._admitted_target(actor, "admin", identity)
        grant = self._new_grant(actor, target, role, permissions)
        check_change(actor, target, grant, role)
        if target.node is not None:
            args = {"grant": grant.to_dict(), "role": role}
            answer = await self.admission.route(target, "update", args)
            return PermissionChange(target, *tokens_from(answer))
        return await self.apply_update(target, grant, role)

    async def apply_update(
        self, target: Session, grant: Grant, role: str | None
    ) -> PermissionChange:
        """Give a session of this node a new grant (and role), with tokens carrying it."""
        before = (target.grant, target.role)
        target.grant, target.role = grant, role if role is not None else target.role
        try:
            change = await self._tokens_for(target)
        except Exception:
            target.grant, target.role = before  # nothing changed unless it can be carried
            raise
        self._announce_change(target, change)
        return change

    def _new_grant(
        self,
        actor: Actor,
        target: Session,
        role: str | None,
        permissions: Mapping[str, Any] | None,
    ) -> Grant:
        base = target.grant
        if role is not None:
            roles = self.admission.ctx.project(actor.project_id).roles
            _, base = resolve_role(role, roles)
        return merge_overrides(base, permissions)

    async def _tokens_for(self, target: Session) -> PermissionChange:
        token = await self.admission.issuing.own(target)
        rules = self.admission.rules(target.project_id, target.room)
        platform = None
        if rules.platform_token is not None:
            platform = await self.admission.issuing.platform(target, rules.platform_token)
        self.admission.claims.setdefault(target.id, []).append((token.claims, token.kid))
        return PermissionChange(target, token, platform)

    def _announce_change(self, target: Session, change: PermissionChange) -> None:
        data: dict[str, Any] = {
            "grant": target.grant.to_dict(),
            "role": target.role,
            "token": change.token.token,
            "dialect": change.token.dialect,
            "expires_at": change.token.claims.expires_at,
        }
        if change.participant_token is not None:
            data["participant_token"] = change.participant_token.token
        self.admission.publish(target, EventType.PERMISSIONS_UPDATED, data, only(target.id))
        # the room sees the change too (its participant list), never the tokens
        public = {"participant": self.admission.public(target)}
        self.admission.publish(target, EventType.PARTICIPANT_UPDATED, public)

    async def lock(self, actor: Actor, locked: bool) -> RoomRecord:
        """Lock or unlock the room (persisted); raises ForbiddenError, NotFoundError."""
        actor.require("admin")
        record = await self.admission.rooms.set_locked(actor.project_id, actor.room, locked)
        kind = EventType.ROOM_LOCKED if locked else EventType.ROOM_UNLOCKED
        self.admission.publish(actor, kind, {"by": actor.label})
        return record

    def _admitted_target(self, actor: Actor, right: str, identity: str) -> Session:
        actor.require(right)
        self.admission.require_up()
        target = self.admission.target(actor, identity)
        if target.status is not SessionStatus.ADMITTED:  # a knock is not in the room yet
            raise NotInRoomError(f"{identity!r} is waiting in the lobby", identity=identity)
        check_acts_on(actor, target)
        return target


def _names(sources: frozenset[Source]) -> list[str]:
    return sorted(s.value for s in sources)
