"""The admission service as one node of several (see :mod:`.cluster`): how it joins them
(:meth:`RemoteOps.open_cluster`), asks the owner of a session to act on it, and what it does
when another node asks: the asking node checked the rules on its mirror; the owner runs the
change itself, so that a session only ever changes on one node. Mixed into
:class:`AdmissionService`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from roomkey.claims import Claims
from roomkey.errors import InvalidSessionError, NotInRoomError
from roomkey.grants import Grant, parse_sources
from roomkey.minting import MintedToken
from roomkey.roles import merge_overrides
from roomkey.service.admission.cluster import AdmissionCluster
from roomkey.service.admission.credentials import SessionCredentials
from roomkey.service.admission.outcomes import Refreshed
from roomkey.service.admission.redis_bus import RedisBus
from roomkey.service.admission.sessions import Session, SessionRegistry, SessionStatus
from roomkey.service.context import Context
from roomkey.service.redis import RedisLink

if TYPE_CHECKING:
    from roomkey.service.admission.lobby import Lobby
    from roomkey.service.admission.moderation import Moderation, PermissionChange


def token_json(minted: MintedToken | None) -> dict[str, Any] | None:
    """A minted token as a node answers it (its claims with it)."""
    if minted is None:
        return None
    return {
        "token": minted.token,
        "claims": minted.claims.to_dict(),
        "dialect": minted.dialect,
        "kid": minted.kid,
    }


def token_of(data: dict[str, Any] | None) -> MintedToken | None:
    """A minted token from a node's answer."""
    if data is None:
        return None
    claims = dict(data["claims"])
    claims["grant"] = merge_overrides(Grant(), claims["grant"])
    return MintedToken(data["token"], Claims(**claims), data["dialect"], data["kid"])


def tokens_from(answer: dict[str, Any]) -> tuple[MintedToken, MintedToken | None]:
    """The (own token, platform token) of an answer to ``update`` or ``refresh``."""
    token = token_of(answer["token"])
    assert token is not None
    return token, token_of(answer.get("participant_token"))


class RemoteOps:
    """The owner's side of commands, and what it does with sessions it adopts or mirrors."""

    ctx: Context
    registry: SessionRegistry
    lobby: Lobby
    moderation: Moderation
    cluster: AdmissionCluster | None
    grace_s: float
    _detached: dict[str, float]
    # sockets other nodes hold of this node's sessions: session id -> node -> how many
    remote_sockets: dict[str, dict[str, int]]
    _ended: dict[str, Session]
    end: Callable[..., None]
    attach: Callable[[Session], None]
    detach: Callable[[Session], None]
    leave: Callable[[Session], Awaitable[Session]]
    refresh: Callable[[Session], Awaitable[Refreshed]]
    clock: Callable[[], float]
    credentials: SessionCredentials
    authenticate_session: Callable[[str], Session]

    def open_cluster(self, redis: RedisLink) -> RedisBus:
        """The node's part in a cluster of nodes sharing ``redis``; its bus."""
        bus = RedisBus(redis)
        self.cluster = AdmissionCluster(
            bus,
            self.registry,
            on_command=self.run_command,
            adopt=self.adopt,
            ended=self.mirror_ended,
            socket_nodes=self.socket_nodes,
            node_lost=self.node_lost,
            clock=self.ctx.clock,
            node_timeout_s=self.ctx.settings.admission_node_timeout_s,
        )
        return bus

    def start(self) -> None:
        """Start the Redis bus and the node's part in the cluster (nothing without Redis)."""
        if self.cluster is not None:
            self.cluster.bus.start()
            self.cluster.start()

    async def close(self) -> None:
        """Stop what :meth:`start` started and close the Redis connections."""
        if self.cluster is not None:
            await self.cluster.close()
            await self.cluster.bus.close()
            await self.cluster.link.close()

    async def find_session(self, credential: str) -> Session:
        """:meth:`authenticate_session`, but a session of another node not mirrored here yet
        is read from Redis first. Raises InvalidSessionError."""
        try:
            return self.authenticate_session(credential)
        except InvalidSessionError:
            if self.cluster is None or not self.cluster.bus.up:
                raise
        claim = self.credentials.check(credential, self.ctx.clock())
        if self.registry.get(claim.session_id) is None:
            with contextlib.suppress(RedisError, OSError):
                await self.cluster.fetch(claim.session_id)
        return self.authenticate_session(credential)

    def require_up(self) -> None:
        """Raise AdmissionUnavailableError (503) while the nodes' Redis does not answer."""
        if self.cluster is not None:
            self.cluster.require_up()

    async def route(self, session: Session, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """Have the node owning ``session`` run ``op`` on it; its answer, or what it raised
        (and AdmissionUnavailableError when it does not answer)."""
        assert self.cluster is not None and session.node is not None
        return await self.cluster.call(session.node, op, {"session_id": session.id, **args})

    async def run_command(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run a command another node sent about a session of this node.

        Raises NotInRoomError (no such live session here) and what the operation raises.
        """
        session = self._owned(str(args["session_id"]))
        if op == "admit":
            await self.lobby.decide_admit(session, str(args["by"]))
        elif op == "reject":
            self.lobby.decide_reject(session, str(args["reason"]), str(args["by"]))
        elif op == "cancel":
            self.lobby.withdraw(session)
        elif op == "leave":
            await self.leave(session)
        elif op == "end":
            status = SessionStatus(args["status"])
            self.end(session, status, str(args["reason"]), dict(args.get("data") or {}))
        elif op == "mute":
            self.moderation.apply_mute(session, parse_sources(args["sources"]), str(args["by"]))
        elif op in ("attach", "detach"):
            self._socket_of(session, str(args["node"]), op == "attach")
        else:
            return await self._minting(op, session, args)
        return {}

    async def _minting(self, op: str, session: Session, args: dict[str, Any]) -> dict[str, Any]:
        if op == "update":
            grant = merge_overrides(Grant(), args["grant"])
            change: PermissionChange = await self.moderation.apply_update(
                session, grant, args.get("role")
            )
            token, platform = change.token, change.participant_token
        elif op == "refresh":
            refreshed = await self.refresh(session)
            token, platform = refreshed.token, refreshed.participant_token
        else:
            raise NotInRoomError(f"unknown command {op!r}")
        return {"token": token_json(token), "participant_token": token_json(platform)}

    def _socket_of(self, session: Session, node: str, opened: bool) -> None:
        """A socket of ``session`` opened or closed on another node."""
        counts = self.remote_sockets.setdefault(session.id, {})
        if opened:
            counts[node] = counts.get(node, 0) + 1
            self.attach(session)
        elif counts.get(node, 0) > 0:
            counts[node] -= 1
            self.detach(session)

    def socket_nodes(self) -> set[str]:
        """The other nodes holding sockets of this node's sessions."""
        return {node for counts in self.remote_sockets.values() for node, n in counts.items() if n}

    def node_lost(self, node: str) -> None:
        """A node's heartbeat lapsed: the sockets it held of this node's sessions are gone."""
        for session_id, counts in list(self.remote_sockets.items()):
            session = self.registry.get(session_id)
            for _ in range(counts.pop(node, 0)):
                if session is not None and session.live and session.node is None:
                    self.detach(session)

    def _owned(self, session_id: str) -> Session:
        session = self.registry.get(session_id)
        if session is None or session.node is not None or not session.live:
            raise NotInRoomError("the session is not live on this node", session_id=session_id)
        return session

    def adopt(self, sessions: list[Session]) -> None:
        """Take over the sessions of a dead node: without a socket here, they end after the
        grace period (``participant_left``) unless their holder comes back. (Their sockets on
        this node count already; other nodes tell theirs again when they hear of the new
        owner.)"""
        now = self.clock()
        for session in sessions:
            if session.sockets == 0:
                self._detached[session.id] = now
            if self.cluster is not None:
                self.cluster.share(session)

    def mirror_ended(self, session: Session) -> None:
        """A mirrored session ended on its node: keep it a while (late calls answer how it
        ended), then forget it like this node's own."""
        if session.ended_at is None:
            session.ended_at = self.clock()
        self._ended[session.id] = session
