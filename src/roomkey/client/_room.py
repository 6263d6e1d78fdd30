"""The room client: HTTP calls and the event stream (see :mod:`roomkey.client`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from roomkey.client._errors import (
    ClientError,
    ConnectionFailedError,
    NotJoinedError,
    StreamClosedError,
    WaitTimeoutError,
    error_for,
    server_error,
)
from roomkey.errors import RoomkeyError

DEFAULT_TIMEOUT_S = 10.0
MAX_RECONNECTS = 5
# close codes after which reconnecting with ``since`` makes sense (see the stream's docs)
RETRY_CLOSE_CODES = frozenset({1001, 1006, 1011, 1012, 1013})
# close codes that end the stream for good without an error: the session is over
END_CLOSE_CODES = frozenset({1000, 4409})


@dataclass(frozen=True, slots=True)
class JoinResult:
    """The answer to a join: admitted, or waiting in the lobby."""

    status: str  # "admitted" or "waiting"
    room: str
    session_id: str
    session_token: str
    position: int | None = None
    participant: Mapping[str, Any] | None = None
    # the first 100 participants (joining order) and how many there are in all; the rest:
    # :meth:`RoomClient.participants`
    participants: list[Mapping[str, Any]] = field(default_factory=list)
    participants_total: int = 0
    # the media server's token, when the room hands one out on admission
    participant_token: str | None = None

    @classmethod
    def from_json(cls, room: str, body: Mapping[str, Any]) -> JoinResult:
        """A result from the join route's JSON."""
        return cls(
            status=str(body["status"]),
            room=room,
            session_id=str(body["session_id"]),
            session_token=str(body["session_token"]),
            position=body.get("position"),
            participant=body.get("participant"),
            participants=list(body.get("participants") or []),
            participants_total=int(body.get("participants_total") or 0),
            participant_token=body.get("participant_token"),
        )


class RoomClient:
    """A participant (after :meth:`join`) or a server caller (``token=``) of one server."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_reconnects: int = MAX_RECONNECTS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # a server token (rooms:moderate) for moderation and watching without a session
        self.token = token
        self.timeout_s = timeout_s
        self.max_reconnects = max_reconnects
        self.session: JoinResult | None = None
        self.last_seq: int | None = None
        self.reconnects = 0
        # why the stream ended for good ("session removed", ...), once it has
        self.ended: str | None = None
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s)

    async def __aenter__(self) -> RoomClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    # ---- HTTP -----------------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, *, bearer: str | None = None, body: Any = None, **query: Any
    ) -> Any:
        """The JSON answer of one call; raises the roomkey error of an error answer, or
        :class:`ConnectionFailedError`."""
        credential = bearer or self._credential()
        headers = {"Authorization": f"Bearer {credential}"} if credential else {}
        params = {k: v for k, v in query.items() if v is not None}
        content = orjson.dumps(body) if body is not None else None
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = await self._http.request(
                method, path, headers=headers, params=params, content=content
            )
        except httpx.HTTPError as exc:
            raise ConnectionFailedError(
                f"cannot reach {self.base_url}: {exc}", reason=type(exc).__name__
            ) from None
        return _answer(response)

    def _credential(self) -> str | None:
        return self.session.session_token if self.session is not None else self.token

    def _session(self) -> JoinResult:
        if self.session is None:
            raise NotJoinedError("join a room first (or call use_session)")
        return self.session

    def _room(self, room: str | None) -> str:
        if room is not None:
            return room
        return self._session().room

    async def join(self, room: str, token: str) -> JoinResult:
        """Join ``room`` with a participant token (any format): admitted or waiting."""
        body = await self._call("POST", f"/v1/rooms/{_seg(room)}/join", bearer=token)
        self.session = JoinResult.from_json(room, body)
        self.last_seq, self.ended = None, None
        return self.session

    def use_session(self, room: str, session_id: str, session_token: str) -> None:
        """Go on with a session joined earlier (another process, before a restart)."""
        self.session = JoinResult("unknown", room, session_id, session_token)

    async def participants(self, room: str | None = None) -> Any:
        """The room's admitted participants."""
        return await self._call("GET", f"/v1/rooms/{_seg(self._room(room))}/participants")

    async def lobby(self, room: str | None = None) -> Any:
        """The room's waiting participants (for those who may admit)."""
        return await self._call("GET", f"/v1/rooms/{_seg(self._room(room))}/lobby")

    async def admit(self, session_id: str, *, room: str | None = None) -> Any:
        """Admit a waiting session (the first decision wins: a second is 409)."""
        path = f"/v1/rooms/{_seg(self._room(room))}/lobby/{_seg(session_id)}/admit"
        return await self._call("POST", path, body={})

    async def reject(self, session_id: str, reason: str = "", *, room: str | None = None) -> Any:
        """Reject a waiting session, with an optional reason it is told."""
        path = f"/v1/rooms/{_seg(self._room(room))}/lobby/{_seg(session_id)}/reject"
        return await self._call("POST", path, body={"reason": reason} if reason else {})

    async def mute(self, identity: str, sources: Iterable[str], *, room: str | None = None) -> Any:
        """Mute ``identity``'s sources (``cam``, ``mic``, ``screen``)."""
        path = f"/v1/rooms/{_seg(self._room(room))}/participants/{_seg(identity)}/mute"
        return await self._call("POST", path, body={"sources": list(sources)})

    async def remove(self, identity: str, *, ban: bool = False, room: str | None = None) -> Any:
        """Remove ``identity`` from the room; with ``ban``, until the ban is lifted."""
        path = f"/v1/rooms/{_seg(self._room(room))}/participants/{_seg(identity)}"
        return await self._call("DELETE", path, ban="true" if ban else None)

    async def refresh(self) -> Any:
        """A fresh participant token with the session's current grant."""
        session = self._session()
        return await self._call("POST", f"/v1/sessions/{_seg(session.session_id)}/refresh")

    async def leave(self) -> Any:
        """Leave the room; the session ends."""
        session = self._session()
        answer = await self._call("POST", f"/v1/sessions/{_seg(session.session_id)}/leave")
        self.ended = "session left"
        return answer

    # ---- events ---------------------------------------------------------------------------

    async def wait_admitted(self, timeout_s: float) -> Mapping[str, Any]:
        """Wait for the lobby's decision: the ``lobby_admitted`` event (with the platform
        token, when the room hands one out). Returns at once if already admitted.

        Raises the server's ``rejected`` error on ``lobby_rejected``, :class:`WaitTimeoutError`
        when no decision comes in time, or :class:`StreamClosedError`.
        """
        session = self._session()
        if session.status == "admitted":
            return {"type": "lobby_admitted", "session_id": session.session_id}
        try:
            async with asyncio.timeout(timeout_s):
                return await self._decision(session.session_id)
        except TimeoutError:
            raise WaitTimeoutError(
                f"no lobby decision within {timeout_s:g} s", timeout_s=timeout_s
            ) from None

    async def _decision(self, session_id: str) -> Mapping[str, Any]:
        try:
            return await self._decision_on_stream(session_id)
        except RoomkeyError as exc:
            if exc.code != "invalid_session":
                raise
            # decided before the socket opened, and no longer waiting: the session's state
            # says how (a rejected knock answers its own error, ``rejected``)
            return await self._admitted_state(session_id)

    async def _admitted_state(self, session_id: str) -> Mapping[str, Any]:
        """The decision as the session's state tells it (the platform token, if any)."""
        state = await self._call("GET", f"/v1/sessions/{_seg(session_id)}")
        if isinstance(state, Mapping) and state.get("status") != "admitted":
            raise error_for(str(state.get("status")), str(state.get("reason") or ""), status=403)
        return {"type": "lobby_admitted", "session_id": session_id, **_token_of(state)}

    async def _decision_on_stream(self, session_id: str) -> Mapping[str, Any]:
        ends = {"lobby_rejected": "rejected", "lobby_cancelled": "cancelled", "removed": "removed"}
        frames = self._frames(self._room(None))
        try:
            async for frame in frames:
                kind = frame.get("type")
                if kind == "ready" and frame.get("status") == "admitted":
                    # admitted before this socket opened: the event went by unseen
                    return await self._admitted_state(session_id)
                if kind == "lobby_admitted" and frame.get("session_id", session_id) == session_id:
                    return frame
                if kind in ends:
                    reason = frame.get("reason") or ends[str(kind)]
                    raise error_for(ends[str(kind)], str(reason), status=403)
        finally:
            await frames.aclose()
        raise StreamClosedError("the event stream ended before a decision", reason=self.ended)

    async def events(
        self, room: str | None = None, *, since: int | None = None
    ) -> AsyncGenerator[dict[str, Any]]:
        """The room's events, resuming after ``since`` (default: the last one seen).

        Ends when the session ends (removed, replaced, left); raises the server's error for a
        refused stream (``invalid_session``, ``forbidden``, ...), :class:`ConnectionFailedError`
        when the server cannot be reached, or after ``max_reconnects`` failed reconnections
        in a row once the stream was open.
        """
        if since is not None:
            self.last_seq = since
        frames = self._frames(self._room(room))
        try:
            async for frame in frames:
                if frame.get("type") != "ready":
                    yield frame
        finally:
            await frames.aclose()

    async def _frames(self, room: str) -> AsyncGenerator[dict[str, Any]]:
        """Events and each connection's ``ready``, across reconnections."""
        failures, connected = 0, False
        while self.ended is None:
            try:
                async for frame in self._one_connection(room):
                    failures, connected = 0, True
                    yield frame
            except _Retry as retry:
                failures += 1
                # a server that never answered is reported at once; a dropped stream is retried
                if not connected or failures > self.max_reconnects:
                    raise ConnectionFailedError(
                        f"the event stream failed {failures} times in a row: {retry}",
                        reason=str(retry),
                    ) from None
                self.reconnects += 1
                await asyncio.sleep(min(0.1 * 2**failures, 5.0))

    async def _one_connection(self, room: str) -> AsyncGenerator[dict[str, Any]]:
        try:
            from websockets.asyncio.client import connect
            from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
        except ModuleNotFoundError:
            hint = "pip install 'roomkey[server]'"
            raise ClientError(f"events need websockets 13 or later: {hint}") from None

        url = _ws_url(self.base_url) + f"/v1/rooms/{_seg(room)}/events"
        error: dict[str, Any] | None = None
        try:
            async with connect(url, open_timeout=self.timeout_s) as ws:
                # a server that refuses at once may have closed already: read why, below
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(orjson.dumps(self._auth_message()).decode())
                async for raw in ws:
                    message = orjson.loads(raw)
                    if not isinstance(message, dict):
                        raise ConnectionFailedError(
                            "the server sent a message that is not a JSON object",
                            reason="protocol",
                        )
                    kind = message.get("type")
                    if kind == "error":
                        error = message
                    elif kind == "ready":
                        # from here on nothing is missed, even if no event comes before a drop
                        if self.last_seq is None:
                            self.last_seq = message.get("last_seq")
                        yield message
                    elif kind != "pong":
                        self.last_seq = message.get("seq", self.last_seq)
                        yield message
            self._closed(ws.close_code, ws.close_reason or "", error)
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            self._closed(rcvd.code if rcvd else 1006, rcvd.reason if rcvd else "", error)
        except InvalidStatus as exc:
            raise _handshake_error(
                exc.response.status_code, bytes(exc.response.body or b"")
            ) from None
        except (WebSocketException, OSError, TimeoutError, orjson.JSONDecodeError) as exc:
            raise _Retry(f"{type(exc).__name__}: {exc}") from None

    def _auth_message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "auth"}
        if self.session is not None:
            message["session_token"] = self.session.session_token
        elif self.token is not None:
            message["token"] = self.token
        else:
            raise NotJoinedError("join a room first, or give a server token (token=)")
        if self.last_seq is not None:
            message["since"] = self.last_seq
        return message

    def _closed(self, code: int | None, reason: str, error: Mapping[str, Any] | None) -> None:
        """What a closed stream means: the end, a retry (:class:`_Retry`), or an error."""
        code = 1006 if code is None else code
        if error is not None:  # the server said why: reconnecting would not change it
            raise server_error(error)
        if code in END_CLOSE_CODES:
            self.ended = reason or f"closed ({code})"
            return
        if code in RETRY_CLOSE_CODES:
            raise _Retry(f"closed with {code} {reason}".strip())
        raise StreamClosedError(f"the server closed the event stream ({code})", close_code=code)


class _Retry(Exception):
    """The stream dropped for a reason worth reconnecting for."""


def _token_of(state: Any) -> dict[str, Any]:
    token = state.get("participant_token") if isinstance(state, Mapping) else None
    return {"participant_token": token} if token else {}


def _answer(response: httpx.Response) -> Any:
    try:
        document = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        document = None
    if response.status_code >= 400:
        raise server_error(document, response.status_code)
    return document


def _handshake_error(status: int, body: bytes) -> RoomkeyError:
    with contextlib.suppress(orjson.JSONDecodeError):
        return server_error(orjson.loads(body or b"null"), status)
    return server_error(None, status)


def _ws_url(base_url: str) -> str:
    scheme, sep, rest = base_url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise ConnectionFailedError(f"{base_url!r} is not an http(s) URL", reason="bad_url")
    return ("wss://" if scheme.lower() == "https" else "ws://") + rest


def _seg(value: str) -> str:
    return quote(value, safe="")
