"""Dependencies shared by the routers: the service, the authorised caller, rate limits.

Every route that needs a caller declares it with one :class:`Requires` object naming the
capability it needs. That object is the whole caller pipeline (the Authorization header, refused
when sent twice; every check of the token; the capability, for the route's room when it is
room-bound; the issuance rate limit), and the lean hot routes call the very same object, so no
path can skip a step. The app reads the objects back to write "requires: ..." into each
operation's OpenAPI description.

They are ``async def`` although none awaits: FastAPI runs a plain ``def`` dependency in a worker
thread, and these are a few microseconds of work each, far cheaper than the thread hop.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.types import Scope

from roomkey.api.clients import Network, client_address
from roomkey.api.ratelimit import Limiter
from roomkey.capabilities import Capability
from roomkey.errors import DuplicateHeaderError
from roomkey.service import Caller, RoomkeyService

AUTHORIZATION_DOC = "`Bearer <server token>` or the raw token (VideoSDK style)."


async def get_service(request: Request) -> RoomkeyService:
    """The node's service container (opened by the app's lifespan)."""
    service: RoomkeyService = request.app.state.service
    return service


async def get_limiter(request: Request) -> Limiter:
    """The node's rate limiter (shared through Redis when the node has it)."""
    limiter: Limiter = request.app.state.limiter
    return limiter


def request_client(request: Request) -> str:
    """The request's client address (the socket peer unless a trusted proxy says otherwise)."""
    return client_address(request.scope, request.app.state.trusted_proxies)


ServiceDep = Annotated[RoomkeyService, Depends(get_service)]
LimiterDep = Annotated[Limiter, Depends(get_limiter)]
ClientDep = Annotated[str, Depends(request_client)]


def authorization_header(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The one ``Authorization`` header of a request (latin-1, as Starlette decodes it).

    Raises a 400 ``duplicate_header`` when there are several: proxies and frameworks disagree on
    which one counts, so a request carrying two is refused rather than guessed at.
    """
    found: str | None = None
    for name, value in headers:
        if name.lower() == b"authorization":
            if found is not None:
                raise DuplicateHeaderError(
                    "the request carries more than one Authorization header",
                    header="authorization",
                )
            found = value.decode("latin-1")
    return found


class Requires:
    """The caller pipeline of a route that needs ``capability`` (see the module docstring)."""

    def __init__(
        self, capability: Capability, *, issues: bool = False, room_param: str | None = None
    ) -> None:
        self.capability = capability
        # whether each call counts one token issuance against the caller's rate limit
        self.issues = issues
        # the path parameter naming the room a room-bound right is checked for
        self.room_param = room_param

    async def resolve(
        self, service: RoomkeyService, scope: Scope, limiter: Limiter | None = None
    ) -> Caller:
        """The authorised caller of the request ``scope`` (401, 403, 400 or 429 otherwise).

        ``limiter`` is required when the pipeline counts issuances.
        """
        caller = self.authorize(service, scope)
        if self.issues:
            assert limiter is not None, "an issuing pipeline needs the rate limiter"
            await service.tokens.count_issuance(caller, limiter)
        return caller

    def authorize(self, service: RoomkeyService, scope: Scope) -> Caller:
        """The caller's header, token and capability (:meth:`resolve` without the count)."""
        header = authorization_header(scope["headers"])
        room = scope.get("path_params", {}).get(self.room_param) if self.room_param else None
        return service.authorize(header, self.capability, room=room)

    async def __call__(
        self,
        request: Request,
        authorization: Annotated[str | None, Header(description=AUTHORIZATION_DOC)] = None,
    ) -> Caller:
        # ``authorization`` is declared for the OpenAPI document; the raw headers are read so
        # that a repeated header is refused instead of the first one winning.
        app = request.app
        return await self.resolve(app.state.service, request.scope, app.state.limiter)

    def __repr__(self) -> str:
        return f"Requires({self.capability.value!r})"


def requires(capability: Capability, *, room_param: str | None = None) -> Requires:
    """The pipeline object of a route needing ``capability``."""
    return Requires(capability, room_param=room_param)


# One object per capability for the management routes; issuing routes have their own (below).
KEYS = requires(Capability.KEYS)
PROJECT = requires(Capability.PROJECT)
ROOMS_READ = requires(Capability.ROOMS_READ)
ROOMS_WRITE = requires(Capability.ROOMS_WRITE)
# room-bound: a participant token that moderates a room may moderate that room only
ROOMS_MODERATE = requires(Capability.ROOMS_MODERATE, room_param="room")
ROLES = requires(Capability.ROLES)
REVOCATIONS = requires(Capability.REVOCATIONS)
AUDIT_READ = requires(Capability.AUDIT_READ)
WEBHOOKS = requires(Capability.WEBHOOKS)
ADMIN = requires(Capability.ADMIN)
TOKENS_ISSUE = Requires(Capability.TOKENS_ISSUE, issues=True)
TOKENS_VERIFY = requires(Capability.TOKENS_VERIFY)

KeysCaller = Annotated[Caller, Depends(KEYS)]
ProjectCaller = Annotated[Caller, Depends(PROJECT)]
RoomsReader = Annotated[Caller, Depends(ROOMS_READ)]
RoomsWriter = Annotated[Caller, Depends(ROOMS_WRITE)]
RoomModerator = Annotated[Caller, Depends(ROOMS_MODERATE)]
RolesCaller = Annotated[Caller, Depends(ROLES)]
RevocationsCaller = Annotated[Caller, Depends(REVOCATIONS)]
AuditReader = Annotated[Caller, Depends(AUDIT_READ)]
WebhooksCaller = Annotated[Caller, Depends(WEBHOOKS)]
AdminCaller = Annotated[Caller, Depends(ADMIN)]
IssuerDep = Annotated[Caller, Depends(TOKENS_ISSUE)]


async def optional_verifier(
    service: RoomkeyService, scope: Scope, limiter: Limiter, trusted: tuple[Network, ...]
) -> Caller | None:
    """A caller with tokens:verify when the request carries a token, else None (verify route);
    either way, one verification counted (per caller, else per client address).

    The verify route takes no caller token by default (media servers call it with the
    participant's token alone); one that is sent is checked like any other and fixes the
    project the verification is bound to. Raises what :meth:`Requires.authorize` raises, and
    RateLimitedError.
    """
    caller = None
    if authorization_header(scope["headers"]) is not None:
        caller = TOKENS_VERIFY.authorize(service, scope)
    await service.tokens.count_verification(caller, client_address(scope, trusted), limiter)
    return caller


async def optional_verifier_dep(
    request: Request,
    authorization: Annotated[
        str | None,
        Header(description="Optional. " + AUTHORIZATION_DOC + " Needs tokens:verify."),
    ] = None,
) -> Caller | None:
    """:func:`optional_verifier` as a route dependency (the header declared for OpenAPI)."""
    state = request.app.state
    return await optional_verifier(
        state.service, request.scope, state.limiter, state.trusted_proxies
    )
