"""Admission across nodes: every node mirrors every node's sessions, and what changes a session
is done by the node that owns it (the one it joined on).

- **Mirrors.** Whenever an owned session changes, its owner publishes its state on the
  admission channel (through the bus's one ordered sender, so the state precedes the events
  about it) and keeps it in a Redis hash of its own, read by nodes that start or reconnect
  later. Mirrors sit in each node's :class:`SessionRegistry` beside its own sessions, marked
  with ``node``: lobbies, participant lists and capacity count every node's sessions, and a
  session credential works on every node.
- **Reconnecting.** After Redis comes back (or a node starts), a node tells its sessions
  again, reads every node's hash, and asks each node which of its sessions are live (the
  answer travels after that node's states): mirrors of sessions that ended meanwhile end.
- **Commands.** A host on B admitting a knock held on A: B checks the rules on its mirror, then
  asks A (``call``: a message on the channel, A's answer comes back the same way); A decides,
  so the first decision wins across nodes too.
- **Heartbeats.** Each node writes the time into a sorted set every ``heartbeat_s``. A node
  whose time lapsed past ``node_timeout_s`` is dead: the first live node to claim it (``SET
  NX``) adopts its sessions as disconnected, and they end after the grace period like any
  other session without a socket (the room hears ``participant_left``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from redis.exceptions import RedisError

from roomkey.errors import AdmissionUnavailableError, InternalServerError, RoomkeyError
from roomkey.grants import Grant, parse_sources
from roomkey.roles import merge_overrides
from roomkey.service.admission.redis_bus import RedisBus
from roomkey.service.admission.sessions import Session, SessionRegistry, SessionStatus

log = logging.getLogger("roomkey.admission.cluster")
CALL_TIMEOUT_S = 3.0  # how long a node waits for the owner of a session to answer
REAPED_TTL_S = 3600  # a dead node's claim is kept this long (its id never comes back)

Command = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
Adopt = Callable[[list[Session]], None]
Ended = Callable[[Session], None]
Clock = Callable[[], float]

_FIELDS = (
    "id",
    "project_id",
    "room",
    "identity",
    "dialect",
    "created_at",
    "token_jti",
    "token_kid",
    "token_issued_at",
    "token_expires_at",
    "name",
    "role",
    "metadata",
    "joined_at",
    "ended_at",
    "reason",
)


def session_state(session: Session, node: str) -> bytes:
    """What other nodes mirror of a session (its owner ``node`` included)."""
    state = {name: getattr(session, name) for name in _FIELDS}
    state.update(
        status=session.status.value,
        grant=session.grant.to_dict(),
        attributes=dict(session.attributes),
        muted=sorted(s.value for s in session.muted),
        node=node,
    )
    return orjson.dumps(state)


def mirror_of(state: dict[str, Any]) -> Session:
    """A session of another node, from its state."""
    fields = {name: state[name] for name in _FIELDS}
    return Session(
        **fields,
        grant=merge_overrides(Grant(), state["grant"]),
        status=SessionStatus(state["status"]),
        attributes=state["attributes"],
        muted=parse_sources(state["muted"]),
        node=state["node"],
    )


def update_mirror(session: Session, state: dict[str, Any]) -> None:
    """Bring a mirror up to date (only what changed is set: the registry re-files on some)."""
    fresh = mirror_of(state)
    for name in (*_FIELDS, "grant", "status", "muted", "node"):
        value = getattr(fresh, name)
        if getattr(session, name) != value:
            setattr(session, name, value)


def remote_error(body: dict[str, Any]) -> RoomkeyError:
    """The error a node answered with, as the class of its code (RoomkeyError if unknown)."""
    code, message = str(body.get("error")), str(body.get("message"))
    details = body.get("details") or {}
    cls = _error_classes().get(code, RoomkeyError)
    try:
        return cls(message, **details)
    except TypeError:  # a class with a constructor of its own
        return RoomkeyError(message, **details)


def _error_classes() -> dict[str, type[RoomkeyError]]:
    found: dict[str, type[RoomkeyError]] = {}
    pending: list[type[RoomkeyError]] = [RoomkeyError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


class AdmissionCluster:
    """One node's part in the shared admission server (see the module docstring)."""

    def __init__(
        self,
        bus: RedisBus,
        registry: SessionRegistry,
        *,
        on_command: Command,
        adopt: Adopt,
        ended: Ended,
        socket_nodes: Callable[[], set[str]],
        node_lost: Callable[[str], None],
        clock: Clock,
        node_timeout_s: float,
        heartbeat_s: float = 1.0,
    ) -> None:
        self.bus, self.link, self.registry = bus, bus.link, registry
        self.node = self.link.node_id
        self.on_command, self.adopt, self.ended = on_command, adopt, ended
        self.socket_nodes, self.node_lost = socket_nodes, node_lost
        self.clock, self.node_timeout_s, self.heartbeat_s = clock, node_timeout_s, heartbeat_s
        self.nodes_key = self.link.key("admission", "nodes")
        self.connected_since: float | None = None
        self.adopted = 0  # sessions adopted from dead nodes
        self._calls: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._shared: dict[str, bytes] = {}  # the last state told of each owned session
        self._missing_since: dict[str, float] = {}
        self._commands: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        handlers = {b"s": self._on_state, b"l": self._on_live, b"c": self._on_command}
        bus.handlers.update({**handlers, b"r": self._on_reply})
        bus.on_connect.append(self._resync)

    def start(self) -> None:
        """Start the heartbeat and the worker that runs commands, one at a time, in order."""
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._beating()), loop.create_task(self._working())]

    async def close(self) -> None:
        """Stop the tasks. The node stays in the set of nodes: to the others a node that
        stops is one that died, and its sessions end after the grace period (its clients join
        again elsewhere)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def require_up(self) -> None:
        """Raise :class:`AdmissionUnavailableError` (503) while Redis does not carry the
        node's messages: a change made now would not reach the other nodes in order."""
        if not self.bus.up:
            raise AdmissionUnavailableError(
                "live admission is unavailable: Redis does not answer; retry shortly",
                reason="redis_unreachable",
            )

    def hash_of(self, node: str) -> str:
        """The Redis hash holding ``node``'s live sessions."""
        return self.link.key("admission", "sessions", node)

    # ---- mirrors -------------------------------------------------------------------------

    def share(self, session: Session) -> None:
        """Tell every node the state of an owned session (unless unchanged since told)."""
        state = session_state(session, self.node)
        if self._shared.get(session.id) == state:
            return
        if session.live:
            self._shared[session.id] = state
        else:
            self._shared.pop(session.id, None)
        self.bus.share(self.hash_of(self.node), session.id, state, session.live)

    def _on_state(self, body: bytes) -> None:
        state = orjson.loads(body)
        if state["node"] != self.node:
            self.apply(state)

    def apply(self, state: dict[str, Any]) -> None:
        """Mirror another node's session state."""
        session = self.registry.get(state["id"])
        if session is None:
            if SessionStatus(state["status"]).live:
                self.registry.add(mirror_of(state))  # the joining node ends what it replaces
            return
        if session.node is None:
            return  # ours now (adopted from a node that died), whatever it said before
        owner = session.node
        update_mirror(session, state)
        if not session.live:
            self.ended(session)
        elif session.node != owner:  # adopted by another node: tell it this node's sockets
            for _ in range(session.sockets):
                self.tell(
                    str(session.node), "attach", {"session_id": session.id, "node": self.node}
                )

    async def _resync(self) -> None:
        """After (re)connecting: heartbeat, tell the node's own sessions again (Redis may
        have lost them) and which are live, read every node's sessions, and ask each node
        which of its sessions are live (messages missed while away may have ended some)."""
        self.connected_since = self.clock()
        self._missing_since.clear()
        await self.link.client.zadd(self.nodes_key, {self.node: self.clock()})
        self._shared.clear()
        for session in self.registry.live():
            if session.node is None:
                self.share(session)
        self._announce()
        listed = await self.link.client.zrange(self.nodes_key, 0, -1)
        nodes = [n.decode() if isinstance(n, bytes) else str(n) for n in listed]
        for node in nodes:
            if node != self.node:
                for raw in (await self.link.client.hgetall(self.hash_of(node))).values():
                    self.apply(orjson.loads(raw))
                self.tell(node, "announce", {})

    def _announce(self) -> None:
        """Tell every node which sessions of this node are live (after their states, through
        the one ordered sender): mirrors of others end."""
        live = [s.id for s in self.registry.live() if s.node is None]
        self.bus.tell(b"l", orjson.dumps({"node": self.node, "live": live}))

    def _on_live(self, body: bytes) -> None:
        message = orjson.loads(body)
        node, live = message["node"], set(message["live"])
        if node == self.node:
            return
        for session in self.registry.live():
            if session.node == node and session.id not in live:
                session.status, session.reason = SessionStatus.LEFT, "disconnected"
                self.ended(session)

    async def fetch(self, session_id: str) -> None:
        """Mirror a session no message has brought yet, from its node's hash (a credential
        used here a moment after its join on another node). Raises RedisError."""
        listed = await self.link.client.zrange(self.nodes_key, 0, -1)
        for node in (n.decode() if isinstance(n, bytes) else str(n) for n in listed):
            raw = await self.link.client.hget(self.hash_of(node), session_id)
            if node != self.node and raw is not None:
                self.apply(orjson.loads(raw))
                return

    # ---- commands ------------------------------------------------------------------------

    async def call(self, node: str, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """Ask ``node`` to run ``op`` on a session it owns; its answer, or the error it raised.

        Raises AdmissionUnavailableError when Redis is down or the node does not answer within
        :data:`CALL_TIMEOUT_S`.
        """
        self.require_up()
        call_id = secrets.token_hex(8)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._calls[call_id] = future
        self._send(node, op, args, call_id)
        try:
            async with asyncio.timeout(CALL_TIMEOUT_S):
                return await future
        except TimeoutError:
            raise AdmissionUnavailableError(
                "the node holding the session did not answer; retry shortly",
                reason="node_unreachable",
            ) from None
        finally:
            self._calls.pop(call_id, None)

    def tell(self, node: str, op: str, args: dict[str, Any]) -> None:
        """Ask ``node`` to run ``op`` without waiting for its answer."""
        self._send(node, op, args, "")

    def _send(self, node: str, op: str, args: dict[str, Any], call_id: str) -> None:
        message = {"to": node, "from": self.node, "id": call_id, "op": op, "args": args}
        self.bus.tell(b"c", orjson.dumps(message))

    def _on_command(self, body: bytes) -> None:
        message = orjson.loads(body)
        if message["to"] != self.node:
            return
        if message["op"] == "announce":
            self._announce()
        else:
            self._commands.put_nowait(message)

    async def _working(self) -> None:
        while True:
            message = await self._commands.get()
            answer: dict[str, Any] = {"to": message["from"], "id": message["id"]}
            try:
                answer["ok"] = await self.on_command(message["op"], message["args"])
            except RoomkeyError as exc:
                answer["failed"] = exc.to_dict()
            except Exception:
                log.exception("admission: command %r failed", message["op"])
                answer["failed"] = InternalServerError("the command failed").to_dict()
            if message["id"]:
                self.bus.tell(b"r", orjson.dumps(answer))

    def _on_reply(self, body: bytes) -> None:
        message = orjson.loads(body)
        future = self._calls.get(message["id"]) if message["to"] == self.node else None
        if future is None or future.done():
            return
        if "failed" in message:
            future.set_exception(remote_error(message["failed"]))
        else:
            future.set_result(message["ok"])

    # ---- heartbeats ----------------------------------------------------------------------

    async def _beating(self) -> None:
        while True:
            with contextlib.suppress(RedisError, OSError):  # the next beat tries again
                await self.beat()
            await asyncio.sleep(self.heartbeat_s)

    async def beat(self) -> None:
        """Write this node's time; adopt the sessions of nodes whose time lapsed (only once
        this node has been connected long enough for every live node to have beaten)."""
        now = self.clock()
        await self.link.client.zadd(self.nodes_key, {self.node: now})
        # nodes silent for long (their sessions adopted or none) leave the set
        await self.link.client.zremrangebyscore(self.nodes_key, "-inf", now - REAPED_TTL_S)
        since = self.connected_since
        if self.bus.up and since is not None and now - since >= self.node_timeout_s:
            owners = {s.node for s in self.registry.live() if s.node is not None}
            for node in await self._lapsed(now, owners | self.socket_nodes()):
                if node in owners:
                    await self._claim(node)
                self.node_lost(node)

    async def _lapsed(self, now: float, nodes: set[str]) -> list[str]:
        """Which of ``nodes`` did not beat for ``node_timeout_s``."""
        owners = sorted(nodes - {self.node})
        if not owners:
            return []
        scores = await self.link.client.zmscore(self.nodes_key, owners)
        lapsed = []
        for owner, score in zip(owners, scores, strict=True):
            if score is None:  # gone from the set (Redis restarted): lapses from now
                last = self._missing_since.setdefault(owner, now)
            else:
                self._missing_since.pop(owner, None)
                last = float(score)
            if now - last >= self.node_timeout_s:
                lapsed.append(owner)
        return lapsed

    async def _claim(self, owner: str) -> None:
        """Adopt ``owner``'s sessions, if this node is the first to claim them."""
        claim = self.link.key("admission", "reaped", owner)
        if not await self.link.client.set(claim, self.node, nx=True, ex=REAPED_TTL_S):
            return
        sessions = [s for s in self.registry.live() if s.node == owner]
        log.warning("admission: node %s lapsed; adopting its %d sessions", owner, len(sessions))
        for session in sessions:
            session.node = None
        self.adopted += len(sessions)
        self.adopt(sessions)
        await self.link.client.delete(self.hash_of(owner))
        await self.link.client.zrem(self.nodes_key, owner)
