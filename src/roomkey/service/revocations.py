"""Revocations: persisted before the call returns, enforced from memory at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from roomkey.claims import check_text
from roomkey.errors import InvalidClaimValueError
from roomkey.revocation import Revocation
from roomkey.service.context import Context
from roomkey.service.ids import new_id
from roomkey.service.state import to_rule
from roomkey.service.webhooks.events import WebhookEvent, on_revocation
from roomkey.store import RevocationKind, RevocationRecord

KINDS = ("jti", "identity", "room", "key", "issued_before")


class RevocationService:
    """Revoke by jti, identity (optionally in a room), room, key, or issued-before; lift."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        # called with (project id, rule) once a new rule is enforced (admission ends sessions)
        self.listeners: list[Callable[[str, Revocation], object]] = []

    async def revoke(
        self,
        project_id: str,
        *,
        jti: str | None = None,
        identity: str | None = None,
        room: str | None = None,
        kid: str | None = None,
        issued_before: int | None = None,
        reason: str = "",
    ) -> RevocationRecord:
        """Persist one rule, then enforce it. Exactly one target must be named."""
        project = self.ctx.project(project_id)
        kind = _kind(jti, identity, room, kid, issued_before)
        now = self.ctx.now()
        if issued_before is not None and issued_before > now:
            raise InvalidClaimValueError(
                "issued_before is in the future: it would also revoke tokens not issued yet "
                "(including your own server tokens); use the current time at most",
                field="issued_before",
            )
        # After this no token the rule covers can still be valid (tokens live at most max_ttl).
        horizon = max(now, issued_before or 0) + project.record.settings.max_ttl_s
        record = RevocationRecord(
            id=new_id("rev"),
            project_id=project_id,
            kind=kind,
            created_at=now,
            expires_at=horizon + self.ctx.settings.leeway_s,
            jti=check_text(jti, "jti"),
            identity=check_text(identity, "identity"),
            room=check_text(room, "room"),
            kid=check_text(kid, "kid"),
            issued_before=issued_before,
            reason=(reason or "")[:200],
        )
        async with self.ctx.write_lock:
            events = on_revocation(WebhookEvent.REVOCATION_CREATED, now)
            stored = await self.ctx.store.add_revocation(record, events=events)
            rule = self.ctx.project(project_id).revocations.add(to_rule(stored))
        self.ctx.events_written()
        for listener in self.listeners:
            listener(project_id, rule)
        return stored

    async def lift(self, project_id: str, revocation_id: str) -> RevocationRecord:
        """Lift a rule: tokens it covered are accepted again (if otherwise valid)."""
        self.ctx.project(project_id)
        now = self.ctx.now()
        events = on_revocation(WebhookEvent.REVOCATION_LIFTED, now)
        async with self.ctx.write_lock:
            record = await self.ctx.store.lift_revocation(
                project_id, revocation_id, now=now, events=events
            )
            self.ctx.project(project_id).revocations.lift(to_rule(record))
        self.ctx.events_written()
        return record

    async def list_revocations(
        self, project_id: str, include_lifted: bool = False
    ) -> list[RevocationRecord]:
        """The project's rules."""
        self.ctx.project(project_id)
        return await self.ctx.store.list_revocations(project_id, include_lifted=include_lifted)


def _kind(
    jti: str | None,
    identity: str | None,
    room: str | None,
    kid: str | None,
    issued_before: int | None,
) -> RevocationKind:
    """The one target named (given and not None: ``issued_before`` may be 0), as the
    published schema's ``oneOf`` states it; raises InvalidClaimValueError otherwise."""
    given: dict[str, object] = {"jti": jti, "identity": identity, "room": room, "kid": kid}
    given["issued_before"] = issued_before
    named = [field for field, value in given.items() if value is not None]
    if named == ["identity", "room"]:
        return "identity"  # an identity in one room
    if len(named) != 1:
        what = f"not {' and '.join(named)} together" if named else "none was given"
        raise InvalidClaimValueError(
            "name exactly one of jti, identity (optionally with room), room, kid, "
            f"issued_before ({what})",
            field="target",
        )
    return cast(RevocationKind, "key" if named[0] == "kid" else named[0])
