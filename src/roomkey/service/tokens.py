"""Issuing tokens (every issuance audited durably, rate-limited per caller; the development
sandbox) and verifying them with reasons."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from roomkey.capabilities import Capability, expand
from roomkey.errors import (
    BannedError,
    ForbiddenError,
    InvalidClaimValueError,
    NotFoundError,
    ProjectRequiredError,
    RoomkeyError,
    TokenError,
    UnknownProjectError,
    WrongProjectError,
)
from roomkey.grants import Grant, Scope
from roomkey.keys import Key
from roomkey.minting import MintedToken, TokenMinter
from roomkey.roles import CustomRole
from roomkey.service.audit import AuditWriter
from roomkey.service.auth import Caller
from roomkey.service.context import Context
from roomkey.service.keys import KeyService
from roomkey.service.rooms import RoomService
from roomkey.service.state import ProjectState
from roomkey.store import AuditRecord, ProjectSettings
from roomkey.verifying import TokenVerifier, VerifiedToken

_sandbox_log = logging.getLogger("roomkey.sandbox")


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """Everything a caller may ask of a token (the core's minting options)."""

    identity: str | None = None
    room: str | None = None
    dialect: str = "native"
    role: str | None = None
    permissions: Mapping[str, Any] | None = None
    name: str | None = None
    metadata: Any = None
    attributes: Mapping[str, str] | None = None
    ttl_s: int | None = None
    kind: str | None = None
    room_config: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class VerifyOutcome:
    """The answer of the verify endpoint: valid or not, and why, for one project."""

    valid: bool
    verified: VerifiedToken | None = None
    error: RoomkeyError | None = None
    details: dict[str, Any] = field(default_factory=dict)
    project: str | None = None


class Limiter(Protocol):
    """Counts hits per key (the API's rate limiter: per node, or shared through Redis)."""

    async def hit(self, key: str, per_minute: int) -> None:
        """Count one hit for ``key``; raises RateLimitedError over ``per_minute``."""


_MAX_MINTERS = 4096


@dataclass(frozen=True, slots=True)
class _CachedMinter:
    """A minter and the objects it was built from."""

    key: Key
    settings: ProjectSettings
    roles: Mapping[str, CustomRole]
    clock: Callable[[], float]
    minter: TokenMinter


class TokenService:
    """Mint for authenticated callers; verify against memory only."""

    def __init__(
        self, ctx: Context, keys: KeyService, rooms: RoomService, audit: AuditWriter
    ) -> None:
        self.ctx, self.keys, self.rooms, self.audit = ctx, keys, rooms, audit
        self.verifier = TokenVerifier(
            ctx.state.keyring,
            leeway_s=ctx.settings.leeway_s,
            max_bytes=ctx.settings.max_token_bytes,
            revocations=ctx.state.check_revoked,
            max_lifetime_s=30 * 24 * 3600,
            now=ctx.clock,
        )
        self._minters: dict[tuple[str, str, str], _CachedMinter] = {}

    async def issue(self, caller: Caller, request: TokenRequest, endpoint: str) -> MintedToken:
        """Check, mint, audit (durably), and only then return the token.

        Raises BannedError when the identity is banned from the room (and whatever the checks,
        the minter and the audit writer raise).
        """
        project = self.ctx.project(caller.project_id)
        settings = project.record.settings
        if request.ttl_s is not None and request.ttl_s > settings.max_ttl_s:
            raise InvalidClaimValueError(
                f"ttl_s {request.ttl_s} is longer than the project's maximum {settings.max_ttl_s}",
                field="ttl_s",
            )
        minter = self._minter(caller, request.dialect)
        if request.role is not None or request.permissions:  # the default role is no server's
            _check_within_caller(caller, minter.grant_for(request.role, request.permissions)[1])
        if request.room:  # "" is no room, as the minter reads it
            _refuse_banned(project, request.room, request.identity)
            await self.rooms.resolve_for_issue(caller.project_id, request.room)
        minted = minter.mint(
            identity=request.identity,
            room=request.room,
            role=request.role,
            permissions=request.permissions,
            name=request.name,
            metadata=request.metadata,
            attributes=request.attributes,
            ttl=request.ttl_s,
            kind=request.kind,
            room_config=request.room_config,
        )
        await self.audit.record(_audit_row(caller, minted, endpoint))
        return minted

    async def count_issuance(self, caller: Caller, limiter: Limiter) -> None:
        """Count one issuance against the caller's limit: the project's, else the server's.

        Raises RateLimitedError (from ``limiter``) over the limit.
        """
        per_min = self.ctx.project(caller.project_id).record.settings.rate_limit_per_min
        await limiter.hit(f"issue:{caller.kid}", per_min or self.ctx.settings.rate_limit_per_min)

    async def count_verification(
        self, caller: Caller | None, client: str, limiter: Limiter
    ) -> None:
        """Count one verification: the caller's when a server token came, else the client
        address's (the route takes no credential, so the address is all there is).

        Raises RateLimitedError (from ``limiter``) over ``verify_rate_limit_per_min``.
        """
        who = f"key:{caller.kid}" if caller is not None else f"addr:{client}"
        await limiter.hit(f"verify:{who}", self.ctx.settings.verify_rate_limit_per_min)

    async def issue_sandbox(
        self,
        sandbox_id: str | None,
        client: str,
        request: TokenRequest,
        limiter: Limiter,
        endpoint: str,
    ) -> MintedToken:
        """A token of the project ``sandbox_id`` without caller auth, for development only.

        Served only where the project enabled its sandbox; limited per project and ``client``
        address; the TTL is capped by the server's sandbox cap and the project's default.
        Raises NotFoundError (no sandbox there, or no active API key to sign with),
        RateLimitedError, and whatever :meth:`issue` raises.
        """
        project = self.ctx.state.projects.get(sandbox_id or "")
        if project is None or not project.record.settings.sandbox_enabled:
            raise NotFoundError("no sandbox is enabled under that X-Sandbox-ID")
        project_id, settings = project.record.id, self.ctx.settings
        await limiter.hit(f"sandbox:{project_id}:{client}", settings.sandbox_rate_limit_per_min)
        caller = Caller(project_id, self._sandbox_key(project_id), "sandbox")
        _sandbox_log.warning(
            "SANDBOX token issued for project %s (development only; no caller auth)", project_id
        )
        ttl = min(settings.sandbox_max_ttl_s, project.record.settings.default_ttl_s)
        return await self.issue(caller, dataclasses.replace(request, ttl_s=ttl), endpoint)

    def _sandbox_key(self, project_id: str) -> str:
        for record in self.ctx.state.keys.values():
            if record.project_id == project_id and record.purpose == "api":
                return record.kid
        raise NotFoundError("the sandbox project has no active API key")

    def _minter(self, caller: Caller, dialect: str) -> TokenMinter:
        project = self.ctx.project(caller.project_id)
        if dialect == "huddle01":
            key = self.keys.signing_key(caller.project_id)
        else:
            key = self.ctx.state.keyring.get(caller.kid, self.ctx.now())  # type: ignore[assignment]
            if key is None:
                raise TokenError("the caller's key is no longer active")
        settings = project.record.settings
        # A minter is a pure function of these objects: reuse it while they are the same ones
        # (a rotation or reload replaces the key object, a settings change the settings object,
        # a reload the roles mapping; roles put or deleted in place are seen through it, and
        # the clock is the context's current one).
        cache_key = (caller.project_id, caller.kid, dialect)
        cached = self._minters.get(cache_key)
        if (
            cached is not None
            and cached.key is key
            and cached.settings is settings
            and cached.roles is project.roles
            and cached.clock is self.ctx.clock
        ):
            return cached.minter
        minter = TokenMinter(
            key,
            dialect,
            api_key=caller.kid,
            default_ttl_s=min(settings.default_ttl_s, settings.max_ttl_s),
            max_ttl_s=settings.max_ttl_s,
            custom_roles=project.roles,
            now=self.ctx.clock,
        )
        minter.custom_roles = project.roles  # the live mapping, even while it is empty
        if len(self._minters) >= _MAX_MINTERS:
            self._minters.clear()
        self._minters[cache_key] = _CachedMinter(
            key, settings, project.roles, self.ctx.clock, minter
        )
        return minter

    def bound_project(self, named: str | None, caller: Caller | None = None) -> str:
        """The project a verification is bound to: the caller's, the one named, or the only one.

        Raises :class:`ForbiddenError` when a caller names another project than its own,
        :class:`UnknownProjectError` for a project the server does not hold, and
        :class:`ProjectRequiredError` when neither is given and the server holds several.
        """
        projects = self.ctx.state.projects
        if caller is not None:
            if named is not None and named != caller.project_id:
                raise ForbiddenError(
                    "the server token belongs to another project than the one named",
                    field="project",
                )
            return caller.project_id
        if named is not None:
            if named not in projects:
                raise UnknownProjectError(f"no project {named!r} on this server", field="project")
            return named
        if len(projects) == 1:
            return next(iter(projects))
        raise ProjectRequiredError(
            'this server holds several projects: name one ("project") or send a server '
            "token with tokens:verify",
            field="project",
        )

    def verify(
        self,
        token: str,
        *,
        project: str | None = None,
        room: str | None = None,
        identity: str | None = None,
        scope: str = "room",
    ) -> VerifyOutcome:
        """Every check of the core for a token of ``project``, then the room's state.

        Never a database query. A genuine token of another project is invalid
        (``wrong_project``), checked before its claims so the reason is the project.
        ``project=None`` means the server's only project (see :meth:`bound_project`, whose
        errors it raises).
        """
        wanted = Scope(scope)
        project = self.bound_project(project) if project is None else project
        try:
            verified = self.verifier.verify_signature(token)
            owner = self.ctx.state.project_of_key(verified.kid)
            if owner is None or owner.record.id != project:
                raise WrongProjectError("the token belongs to another project")
            self.verifier.validate(verified, room=room, identity=identity, scope=wanted)
            if wanted is Scope.ROOM:
                self.rooms.check_for_verify(project, verified.claims.room)
        except TokenError as exc:
            return VerifyOutcome(False, error=exc, project=project)
        return VerifyOutcome(True, verified, project=project)


def _refuse_banned(project: ProjectState, room: str, identity: str | None) -> None:
    """No token for an identity banned from the room (memory only, like verification)."""
    if identity is not None and project.ban_of(room, identity) is not None:
        raise BannedError(
            f"{identity!r} is banned from room {room!r}: no token until the ban is lifted",
            room=room,
            identity=identity,
        )


def _check_within_caller(caller: Caller, grant: Grant) -> None:
    """A caller hands out server rights only from its own: a subset of its capabilities."""
    if Scope.API not in grant.scope:
        return
    extra = expand(grant.capabilities) - caller.capabilities
    if extra:
        missing = sorted(c.value for c in extra)
        raise ForbiddenError(
            "a server token can only carry capabilities its issuer holds; missing: "
            + ", ".join(missing),
            missing=missing[0],
            field="capabilities",
        )
    if caller.room is not None and Capability.ROOMS_MODERATE in grant.capabilities:
        raise ForbiddenError(
            "a room-bound caller cannot hand out moderation rights",
            missing=Capability.ROOMS_MODERATE.value,
            field="capabilities",
        )


def _audit_row(caller: Caller, minted: MintedToken, endpoint: str) -> AuditRecord:
    claims = minted.claims
    return AuditRecord(
        project_id=caller.project_id,
        jti=claims.jti or "",
        kid=minted.kid,
        dialect=minted.dialect,
        endpoint=endpoint,
        issued_at=claims.issued_at or 0,
        expires_at=claims.expires_at or 0,
        room=claims.room,
        identity=claims.identity,
        role=claims.role,
        caller=caller.label,
    )
