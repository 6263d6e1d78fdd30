"""The admission service as one node of several (see :mod:`.cluster`): how it joins them
(:meth:`RemoteOps.open_cluster`), asks the owner of a session to act on it, and what it does
when another node asks: the asking node checked the rules on its mirror; the owner runs the
change itself, so that a session only ever changes on one node. Mixed into
:class:`AdmissionService`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from roomkey.errors import InvalidSessionError, NotInRoomError
from roomkey.grants import Grant, parse_sources
from roomkey.roles import merge_overrides
from roomkey.service.admission.cluster import AdmissionCluster
from roomkey.service.admission.credentials import SessionCredentials
from roomkey.service.admission.outcomes import Refreshed, token_json
from roomkey.service.admission.redis_bus import RedisBus
from roomkey.service.admission.sessions import Session, SessionRegistry, SessionStatus
from roomkey.service.context import Context
from roomkey.service.redis import RedisLink

# how long a credential of a session unknown here waits for its state to reach Redis
FETCH_WAIT_S = 0.5
FETCH_RETRY_S = 0.02

if TYPE_CHECKING:
    from roomkey.service.admission.lobby import Lobby
    from roomkey.service.admission.moderation import Moderation, PermissionChange


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
        # a join answered by another node a moment ago: its state may still be on its way to
        # Redis (each node sends in order, from a queue), so look again for a short while
        deadline = time.monotonic() + FETCH_WAIT_S
        while self.registry.get(claim.session_id) is None:
            with contextlib.suppress(RedisError, OSError):
                await self.cluster.fetch(claim.session_id)
            if self.registry.get(claim.session_id) is not None or time.monotonic() >= deadline:
                break
            await asyncio.sleep(FETCH_RETRY_S)
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
