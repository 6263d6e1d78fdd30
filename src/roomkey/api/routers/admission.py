"""Admission: join a room with a participant token, the lobby, moderation of live sessions,
and a session's own leave, cancel and refresh."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Response
from starlette.requests import Request

from roomkey.api.actors import (
    ADMIN,
    ADMITTER,
    ANY_SESSION,
    LIVE_SESSION,
    MODERATOR,
    PARTICIPANTS,
)
from roomkey.api.body import body_doc, json_body
from roomkey.api.deps import ServiceDep, authorization_header
from roomkey.api.metrics import Metrics
from roomkey.api.responses import FastJSONResponse
from roomkey.api.schemas import TokenPublic
from roomkey.api.schemas_admission import (
    DecisionRequest,
    JoinPublic,
    JoinRequest,
    KnockPublic,
    LobbyPublic,
    LockPublic,
    MutePublic,
    MuteRequest,
    ParticipantPublic,
    ParticipantsPublic,
    PermissionsPublic,
    PermissionsUpdate,
    RefreshPublic,
    RemovePublic,
    SessionPublic,
)
from roomkey.errors import AuthenticationError, RoomkeyError
from roomkey.minting import MintedToken
from roomkey.service.admission import Session
from roomkey.service.admission.rules import Actor
from roomkey.service.auth import INVALID_OR_EXPIRED, token_from_header

router = APIRouter(prefix="/v1", tags=["admission"])

RoomActorDep = Annotated[Actor, Depends(PARTICIPANTS)]
AdmitterDep = Annotated[Actor, Depends(ADMITTER)]
ModeratorDep = Annotated[Actor, Depends(MODERATOR)]
AdminDep = Annotated[Actor, Depends(ADMIN)]
LiveSessionDep = Annotated[Session, Depends(LIVE_SESSION)]
AnySessionDep = Annotated[Session, Depends(ANY_SESSION)]
JOIN_AUTH = '`Bearer <participant token>`, the raw token, or none with `{"token": ...}`.'


def participant(data: dict[str, Any]) -> ParticipantPublic:
    """A participant's public form."""
    return ParticipantPublic.model_validate(data)


def token_public(minted: MintedToken) -> TokenPublic:
    """An issued token as the API shows it."""
    claims = minted.claims
    return TokenPublic(
        token=minted.token,
        jti=claims.jti or "",
        expires_at=claims.expires_at or 0,
        dialect=minted.dialect,
    )


def _join_token(request: Request, body: JoinRequest) -> str:
    header = authorization_header(request.scope["headers"])
    if header:
        return token_from_header(header)
    if body.token:
        return body.token
    raise AuthenticationError(
        f'{INVALID_OR_EXPIRED}: send the participant token (Authorization or "token")',
        reason="missing_token",
    )


@router.post(
    "/rooms/{room}/join",
    response_model=JoinPublic,
    response_model_exclude_unset=True,
    operation_id="join_room",
    responses={202: {"model": JoinPublic, "description": "Waiting in the lobby"}},
    openapi_extra=body_doc(JoinRequest),
)
async def join_room(
    room: str,
    request: Request,
    body: Annotated[JoinRequest, Depends(json_body(JoinRequest))],
    service: ServiceDep,
    authorization: Annotated[str | None, Header(description=JOIN_AUTH)] = None,
) -> Response:
    """Join with a participant token of any format, verified once here with every check:
    admitted (200), waiting in the lobby (202), or refused (401 with the verifier's reason;
    403 `banned`, `room_locked`, `room_full`; 409 `room_inactive`). An admitted answer lists
    the first 100 participants in joining order and counts them all (`participants_total`);
    `GET /v1/rooms/{room}/participants` lists every one."""
    metrics: Metrics = request.app.state.metrics
    try:
        joined = await service.admission.join(
            _join_token(request, body), room, project=body.project
        )
    except RoomkeyError as exc:
        metrics.count_join(exc.code)
        raise
    metrics.count_join(joined.status)
    session = joined.session
    answer: dict[str, Any] = {
        "status": joined.status,
        "session_id": session.id,
        "session_token": joined.session_token,
    }
    if joined.status == "waiting":
        answer["position"] = joined.position
        return FastJSONResponse(answer, status_code=202)
    # the participants are the service's own public dicts (the shape of ParticipantPublic):
    # validated once more per item, a join of a big room spent its time here
    answer["participant"] = service.admission.public(session)
    answer["participants"] = orjson.Fragment(joined.participants)
    answer["participants_total"] = joined.participants_total
    if joined.participant_token is not None:
        answer["participant_token"] = joined.participant_token.token
    return FastJSONResponse(answer)


@router.get(
    "/rooms/{room}/participants",
    response_model=ParticipantsPublic,
    operation_id="list_participants",
)
async def list_participants(actor: RoomActorDep, service: ServiceDep) -> Response:
    """The room's admitted participants in joining order (hidden ones only for moderators)."""
    return FastJSONResponse({"data": service.admission.participants(actor)})


@router.get("/rooms/{room}/lobby", response_model=LobbyPublic, operation_id="list_lobby")
async def list_lobby(actor: AdmitterDep, service: ServiceDep) -> LobbyPublic:
    """The knocks waiting in the room's lobby, oldest first."""
    knocks = service.admission.lobby.list(actor)
    return LobbyPublic(data=[KnockPublic.model_validate(k) for k in knocks])


@router.post(
    "/rooms/{room}/lobby/{session_id}/admit",
    response_model=SessionPublic,
    operation_id="admit_knock",
)
async def admit_knock(
    session_id: str, actor: AdmitterDep, service: ServiceDep, request: Request
) -> SessionPublic:
    """Admit a knock; the first decision wins (a second is 409 `already_decided`)."""
    session = await service.admission.lobby.admit(actor, session_id)
    _observe_wait(request, "admitted", session)
    return session_public(session)


def _observe_wait(request: Request, decision: str, session: Session) -> None:
    decided = session.joined_at if decision == "admitted" else session.ended_at
    if decided is not None:
        request.app.state.metrics.observe_lobby_wait(decision, decided - session.created_at)


@router.post(
    "/rooms/{room}/lobby/{session_id}/reject",
    response_model=SessionPublic,
    operation_id="reject_knock",
    openapi_extra=body_doc(DecisionRequest),
)
async def reject_knock(
    session_id: str,
    actor: AdmitterDep,
    body: Annotated[DecisionRequest, Depends(json_body(DecisionRequest))],
    service: ServiceDep,
    request: Request,
) -> SessionPublic:
    """Reject a knock, with an optional reason the waiter sees (409 once decided)."""
    session = await service.admission.lobby.reject(actor, session_id, body.reason)
    _observe_wait(request, "rejected", session)
    return session_public(session)


@router.post(
    "/rooms/{room}/participants/{identity}/mute",
    response_model=MutePublic,
    operation_id="mute_participant",
    openapi_extra=body_doc(MuteRequest),
)
async def mute_participant(
    identity: str,
    actor: ModeratorDep,
    body: Annotated[MuteRequest, Depends(json_body(MuteRequest))],
    service: ServiceDep,
) -> MutePublic:
    """Mute some of a participant's sources (`cam`, `mic`, `screen`, `screen_audio`)."""
    target = await service.admission.moderation.mute(actor, identity, body.sources)
    return MutePublic(identity=identity, muted=sorted(s.value for s in target.muted))


@router.post(
    "/rooms/{room}/participants/{identity}/unmute",
    response_model=MutePublic,
    operation_id="request_unmute",
    openapi_extra=body_doc(MuteRequest),
)
async def request_unmute(
    identity: str,
    actor: ModeratorDep,
    body: Annotated[MuteRequest, Depends(json_body(MuteRequest))],
    service: ServiceDep,
) -> MutePublic:
    """Ask a participant to unmute: a request it may accept, never forced."""
    target = service.admission.moderation.request_unmute(actor, identity, body.sources)
    muted = sorted(s.value for s in target.muted)
    return MutePublic(identity=identity, muted=muted, requested=sorted(set(body.sources)))


@router.delete(
    "/rooms/{room}/participants/{identity}",
    response_model=RemovePublic,
    operation_id="remove_participant",
)
async def remove_participant(
    identity: str,
    actor: AdminDep,
    service: ServiceDep,
    ban: Annotated[bool, Query(description="Also ban the identity from the room.")] = False,
    reason: Annotated[str, Query(max_length=200)] = "",
) -> RemovePublic:
    """Remove a participant; with `ban=true` it cannot rejoin (its tokens for the room are
    revoked, admission and issuance refused) until the ban is lifted."""
    removal = await service.admission.moderation.remove(actor, identity, ban=ban, reason=reason)
    ended = removal.session.id if removal.session is not None else None
    return RemovePublic(identity=identity, session_id=ended, banned=removal.banned)


@router.patch(
    "/rooms/{room}/participants/{identity}",
    response_model=PermissionsPublic,
    operation_id="update_participant",
    openapi_extra=body_doc(PermissionsUpdate),
)
async def update_participant(
    identity: str,
    actor: AdminDep,
    body: Annotated[PermissionsUpdate, Depends(json_body(PermissionsUpdate))],
    service: ServiceDep,
) -> PermissionsPublic:
    """Change a participant's role or permissions (within the actor's own rights; a coHost
    never makes anyone host); it receives a new participant token over its events."""
    change = await service.admission.moderation.update(
        actor, identity, role=body.role, permissions=body.permissions
    )
    platform = change.participant_token
    return PermissionsPublic(
        participant=participant(change.session.public()),
        token=token_public(change.token),
        participant_token=platform.token if platform is not None else None,
    )


@router.post("/rooms/{room}/lock", response_model=LockPublic, operation_id="lock_room")
async def lock_room(room: str, actor: AdminDep, service: ServiceDep) -> LockPublic:
    """Lock the room: joiners wait in the lobby unless they may admit others."""
    record = await service.admission.moderation.lock(actor, True)
    return LockPublic(room=room, locked=record.locked)


@router.post("/rooms/{room}/unlock", response_model=LockPublic, operation_id="unlock_room")
async def unlock_room(room: str, actor: AdminDep, service: ServiceDep) -> LockPublic:
    """Unlock the room."""
    record = await service.admission.moderation.lock(actor, False)
    return LockPublic(room=room, locked=record.locked)


# ---- a session's own routes (its credential) -----------------------------------------------


def session_public(
    session: Session, position: int | None = None, platform: MintedToken | None = None
) -> SessionPublic:
    """A session's state."""
    return SessionPublic(
        session_id=session.id,
        room=session.room,
        identity=session.identity,
        status=session.status.value,
        reason=session.reason,
        position=position,
        participant_token=platform.token if platform is not None else None,
    )


@router.get("/sessions/{session_id}", response_model=SessionPublic, operation_id="get_session")
async def get_session(session: AnySessionDep, service: ServiceDep) -> SessionPublic:
    """The session's state: waiting (with its position), admitted (with its platform token,
    if any), or how it ended; a rejected knock answers 403 `rejected`."""
    view = service.admission.view(session)
    return session_public(view.session, view.position, view.participant_token)


@router.post(
    "/sessions/{session_id}/leave", response_model=SessionPublic, operation_id="leave_session"
)
async def leave_session(session: LiveSessionDep, service: ServiceDep) -> SessionPublic:
    """Leave the room (a waiting session withdraws its knock)."""
    return session_public(await service.admission.leave(session))


@router.post(
    "/sessions/{session_id}/cancel", response_model=SessionPublic, operation_id="cancel_knock"
)
async def cancel_knock(session: LiveSessionDep, service: ServiceDep) -> SessionPublic:
    """Withdraw a knock (409 `already_decided` once it was admitted or rejected)."""
    return session_public(await service.admission.lobby.cancel(session))


@router.post(
    "/sessions/{session_id}/refresh", response_model=RefreshPublic, operation_id="refresh_session"
)
async def refresh_session(session: LiveSessionDep, service: ServiceDep) -> RefreshPublic:
    """A fresh session credential and participant token with the session's current grant,
    while it is live and not revoked (a call may outlive its join token)."""
    refreshed = await service.admission.refresh(session)
    platform = refreshed.participant_token
    return RefreshPublic(
        session_token=refreshed.session_token,
        session_expires_at=refreshed.session_expires_at,
        token=token_public(refreshed.token),
        participant_token=platform.token if platform is not None else None,
    )
