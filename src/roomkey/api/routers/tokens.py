"""Token endpoints: the native request, LiveKit's standard endpoint, the seed's template route,
the development sandbox, and verification with reasons.

`POST /token` and `POST /v1/tokens/verify` are also served ahead of FastAPI's stack
(:mod:`roomkey.api.hot`), running the same steps; the definitions here document them and share
their code.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import PlainTextResponse

from roomkey.api.body import body_doc, json_body
from roomkey.api.deps import (
    ClientDep,
    IssuerDep,
    LimiterDep,
    ServiceDep,
    authorization_header,
    optional_verifier_dep,
)
from roomkey.api.errors import FieldsAsSent
from roomkey.api.metrics import Metrics
from roomkey.api.responses import FastJSONResponse
from roomkey.api.schemas import (
    LiveKitTokenPublic,
    LiveKitTokenRequest,
    TemplateTokenRequest,
    TokenCreate,
    TokenPublic,
    VerifyPublic,
    VerifyRequest,
)
from roomkey.minting import MintedToken
from roomkey.service import Caller, RoomkeyService, TokenRequest, VerifyOutcome
from roomkey.service.auth import token_from_header
from roomkey.service.ids import new_identity

router = APIRouter(tags=["tokens"])

# The core's field names as the LiveKit-style and template bodies spell them: an error names the
# field the caller sent.
LIVEKIT_FIELDS = {
    "identity": "participant_identity",
    "room": "room_name",
    "name": "participant_name",
    "metadata": "participant_metadata",
    "attributes": "participant_attributes",
}
TEMPLATE_FIELDS = {"identity": "participantName", "room": "roomName"}


def _count(request: Request, minted: MintedToken, endpoint: str) -> None:
    request.app.state.metrics.count_issued(endpoint, minted.dialect)


@router.post(
    "/v1/tokens",
    response_model=TokenPublic,
    status_code=201,
    operation_id="create_token",
    openapi_extra=body_doc(TokenCreate),
)
async def create_token(
    caller: IssuerDep,
    body: Annotated[TokenCreate, Depends(json_body(TokenCreate))],
    service: ServiceDep,
    request: Request,
) -> TokenPublic:
    """Mint a token with every option of the core (dialect, role, permissions, TTL...)."""
    minted = await service.tokens.issue(
        caller,
        TokenRequest(
            identity=body.identity,
            room=body.room,
            dialect=body.dialect,
            role=body.role,
            permissions=body.permissions,
            name=body.name,
            metadata=body.metadata,
            attributes=body.attributes,
            ttl_s=body.ttl_s,
            kind=body.kind,
            room_config=body.room_config,
        ),
        "/v1/tokens",
    )
    _count(request, minted, "/v1/tokens")
    return TokenPublic(
        token=minted.token,
        jti=minted.claims.jti or "",
        expires_at=minted.claims.expires_at or 0,
        dialect=body.dialect,
    )


def _livekit_request(body: LiveKitTokenRequest) -> TokenRequest:
    """LiveKit's request as the core's (a missing identity or room is generated)."""
    return TokenRequest(
        identity=body.participant_identity or new_identity(),
        room=body.room_name or f"room-{new_identity()[5:]}",
        dialect="livekit",
        name=body.participant_name,
        metadata=body.participant_metadata,
        attributes=body.participant_attributes,
        room_config=body.room_config,
    )


def _livekit_answer(service: RoomkeyService, minted: MintedToken) -> dict[str, str]:
    return {"server_url": service.settings.public_url, "participant_token": minted.token}


@router.post(
    "/token",
    response_model=LiveKitTokenPublic,
    status_code=201,
    operation_id="livekit_token",
    openapi_extra=body_doc(LiveKitTokenRequest),
)
async def livekit_token(
    caller: IssuerDep,
    body: Annotated[LiveKitTokenRequest, Depends(json_body(LiveKitTokenRequest))],
    service: ServiceDep,
    request: Request,
) -> FastJSONResponse:
    """LiveKit's standard token endpoint: `201 {server_url, participant_token}`."""
    out = await livekit_outcome(service, caller, body, request.app.state.metrics)
    return FastJSONResponse(out, status_code=201)


async def livekit_outcome(
    service: RoomkeyService, caller: Caller, body: LiveKitTokenRequest, metrics: Metrics
) -> dict[str, str]:
    """Issue (and audit) the LiveKit-style token; the 201 body (shared with the lean route)."""
    with FieldsAsSent(LIVEKIT_FIELDS):
        minted = await service.tokens.issue(caller, _livekit_request(body), "/token")
    metrics.count_issued("/token", "livekit")
    return _livekit_answer(service, minted)


@router.post(
    "/createToken",
    status_code=200,
    operation_id="template_token",
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "The token as text.",
        }
    },
    openapi_extra=body_doc(TemplateTokenRequest),
)
async def template_token(
    caller: IssuerDep,
    body: Annotated[TemplateTokenRequest, Depends(json_body(TemplateTokenRequest))],
    service: ServiceDep,
    request: Request,
) -> PlainTextResponse:
    """The seed template's route: `{roomName, participantName}` → the token as text."""
    wanted = TokenRequest(
        identity=body.participantName or new_identity(),
        room=body.roomName or "demo-room",
        dialect="livekit",
        permissions={"can_update_metadata": True},
    )
    with FieldsAsSent(TEMPLATE_FIELDS):
        minted = await service.tokens.issue(caller, wanted, "/createToken")
    _count(request, minted, "/createToken")
    return PlainTextResponse(minted.token)


@router.post(
    "/api/v2/sandbox/connection-details",
    response_model=LiveKitTokenPublic,
    status_code=201,
    operation_id="sandbox_token",
    openapi_extra=body_doc(LiveKitTokenRequest),
)
async def sandbox_token(
    body: Annotated[LiveKitTokenRequest, Depends(json_body(LiveKitTokenRequest))],
    service: ServiceDep,
    limiter: LimiterDep,
    client: ClientDep,
    request: Request,
    x_sandbox_id: Annotated[str | None, Header(description="The project's sandbox id.")] = None,
) -> FastJSONResponse:
    """Development sandbox (off by default, per project): no server token, TTL capped, limited
    per sandbox id and client address."""
    with FieldsAsSent(LIVEKIT_FIELDS):
        minted = await service.tokens.issue_sandbox(
            x_sandbox_id, client, _livekit_request(body), limiter, "/api/v2/sandbox"
        )
    request.app.state.metrics.count_issued("/api/v2/sandbox", "livekit")
    return FastJSONResponse(_livekit_answer(service, minted), status_code=201)


def _outcome_body(outcome: VerifyOutcome) -> dict[str, Any]:
    if outcome.valid and outcome.verified is not None:
        v = outcome.verified
        return {
            "valid": True,
            "code": None,
            "message": "the token is valid",
            "project": outcome.project,
            "dialect": v.dialect,
            "kid": v.kid,
            "claims": v.claims.to_dict(),
            "grant": v.grant.to_dict(),
            "details": {"unknown_keys": list(v.unknown_keys)},
        }
    assert outcome.error is not None
    return {
        "valid": False,
        "code": outcome.error.code,
        "message": outcome.error.message,
        "project": outcome.project,
        "details": outcome.error.details,
    }


@router.post(
    "/v1/tokens/verify",
    response_model=VerifyPublic,
    operation_id="verify_token",
    openapi_extra=body_doc(VerifyRequest),
)
async def verify_token(
    caller: Annotated[Caller | None, Depends(optional_verifier_dep)],
    body: Annotated[VerifyRequest, Depends(json_body(VerifyRequest))],
    service: ServiceDep,
    request: Request,
) -> FastJSONResponse:
    """Valid or not, for which project, the normalised grant, and a precise reason.

    Never a database query. A verification is bound to one project: the one a server token
    with tokens:verify belongs to (sent in `Authorization`), else the one the body names
    (`project`), else the server's only project; with several projects and neither, the answer
    is `400 project_required`. A genuine token of another project is `valid: false` with the
    code `wrong_project`. No caller token is needed otherwise: media servers call this route
    with the participant's token alone. Limited per caller, or per client address without a
    caller token (`verify_rate_limit_per_min`).
    """
    return FastJSONResponse(verify_outcome(service, body, request.app.state.metrics, caller))


def verify_outcome(
    service: RoomkeyService, body: VerifyRequest, metrics: Metrics, caller: Caller | None = None
) -> dict[str, Any]:
    """Verify from memory and count the outcome; the 200 body (shared with the lean route)."""
    project = service.tokens.bound_project(body.project, caller)
    outcome = service.tokens.verify(
        body.token, project=project, room=body.room, identity=body.identity, scope=body.scope
    )
    code = "valid" if outcome.valid else (outcome.error.code if outcome.error else "invalid")
    metrics.count_verification(code)
    return _outcome_body(outcome)


@router.get(
    "/rtc/validate",
    response_model=VerifyPublic,
    operation_id="rtc_validate",
    responses={401: {"model": VerifyPublic, "description": "Invalid token"}},
)
async def rtc_validate(
    service: ServiceDep,
    limiter: LimiterDep,
    client: ClientDep,
    request: Request,
    access_token: Annotated[str | None, Query(max_length=65536)] = None,
    project: Annotated[str | None, Query(max_length=256)] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> FastJSONResponse:
    """LiveKit-style validation: the participant's token as `access_token` or a header.

    Bound to one project like `POST /v1/tokens/verify`: the `project` named, else the server's
    only project (`400 project_required` when it holds several). Limited per client address
    (`verify_rate_limit_per_min`).
    """
    await service.tokens.count_verification(None, client, limiter)
    bound = service.tokens.bound_project(project)
    token = access_token or token_from_header(authorization_header(request.scope["headers"]))
    outcome = service.tokens.verify(token, project=bound)
    code = "valid" if outcome.valid else (outcome.error.code if outcome.error else "invalid")
    request.app.state.metrics.count_verification(code)
    return FastJSONResponse(_outcome_body(outcome), status_code=200 if outcome.valid else 401)
