"""The delivery worker: claims due deliveries, posts them, records each outcome.

At least once: a delivery is finished only after its attempt; a node that dies first leaves its
claim to run out, and another node (or this one, restarted) sends it again. In order per
endpoint, one at a time: the store hands out only the oldest pending delivery of each endpoint.
A failed attempt is retried after ``backoff_s * 2**(attempts - 1)`` (at most ``backoff_max_s``),
scaled by a random factor in [0.5, 1) so that failing receivers are not hit in lockstep; after
``max_attempts`` attempts the delivery is dead (redeliver it through the API).

Bad receivers stay contained: each attempt has a deadline for the whole exchange, at most
``max_response_bytes`` of the answer are read, redirects are never followed (a 3xx is a
failure), TLS is verified, and at most ``concurrency`` attempts run at once on a node, each
endpoint holding one of them at most, so a slow endpoint delays only its own queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import random
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roomkey.errors import RoomkeyError
from roomkey.service.webhooks import ssrf
from roomkey.service.webhooks.requests import Outgoing
from roomkey.store import ClaimedDelivery, DeliveryOutcome, Store

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("roomkey.webhooks")
_ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How the worker delivers (from the ``webhook_*`` settings)."""

    timeout_s: float = 10.0
    lease_s: float = 60.0
    max_attempts: int = 12
    backoff_s: float = 2.0
    backoff_max_s: float = 3600.0
    concurrency: int = 16
    poll_s: float = 0.5
    max_response_bytes: int = 65536

    def retry_at(self, attempts: int, now: float, jitter: float) -> float | None:
        """When to try again after ``attempts`` failed attempts, or None: dead."""
        if attempts >= self.max_attempts:
            return None
        delay = min(self.backoff_max_s, self.backoff_s * 2 ** (attempts - 1))
        return float(now + delay * (0.5 + jitter / 2))


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt: delivered (a 2xx answer), or why not."""

    delivered: bool
    status_code: int | None = None
    error: str | None = None


Build = Callable[[ClaimedDelivery, float], Outgoing]


class DeliveryWorker:
    """One node's delivery loop (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        build: Build,
        policy: DeliveryPolicy,
        *,
        clock: Callable[[], float],
        resolve: Callable[[ssrf.Target, bool], Awaitable[list[ssrf.IPAddress]]] = ssrf.resolve,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.store, self.build, self.policy = store, build, policy
        self.clock, self.resolve, self.jitter = clock, resolve, jitter
        self.node = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._claims = itertools.count(1)
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._open_claims: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        # made for the first delivery (see _http)
        self._client: httpx.AsyncClient | None = None
        self._client_made = asyncio.Lock()
        # set by close(): the loop stops between claims and attempts give up their exchange;
        # nothing is cancelled inside a database call (a cancelled aiosqlite call can leave
        # its connection stuck, and the pool's close waiting on it)
        self._stopping = asyncio.Event()
        self._outcomes: list[tuple[DeliveryOutcome, asyncio.Future[ClaimedDelivery | None]]] = []
        self._recorded = asyncio.Event()
        self._recorder: asyncio.Task[None] | None = None
        self.attempts = self.delivered = self.failed = 0  # running totals, for metrics

    def start(self) -> None:
        """Start the loop (inside a running event loop)."""
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(), name="webhook-worker")
        self._recorder = loop.create_task(self._record(), name="webhook-recorder")

    @property
    def in_flight(self) -> int:
        """Attempts running now on this node."""
        return len(self._inflight)

    def wake(self) -> None:
        """Look for due deliveries now (an event was just written)."""
        self._wake.set()

    async def close(self) -> None:
        """Stop claiming, abandon the exchanges in flight and release their claims."""
        self._stopping.set()
        self._wake.set()
        for task in (self._task, *self._inflight):
            if task is not None:
                with contextlib.suppress(Exception):
                    await task
        self._recorded.set()
        if self._recorder is not None:  # ends once every attempt's outcome is recorded
            with contextlib.suppress(Exception):
                await self._recorder
        with contextlib.suppress(Exception):  # a dead database: the leases run out instead
            await self.store.release_deliveries(list(self._open_claims))
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                claimed = await self.claim_once()
            except Exception as exc:  # the database is away: try again at the next tick
                log.warning("claiming webhook deliveries failed: %s", type(exc).__name__)
                claimed = 0
            if claimed == 0 or len(self._inflight) >= self.policy.concurrency:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.policy.poll_s)
                self._wake.clear()

    async def claim_once(self) -> int:
        """Claim what is due, within the concurrency bound, and start each attempt; how many."""
        room = self.policy.concurrency - len(self._inflight)
        if room <= 0:
            return 0
        claim = f"{self.node}:{next(self._claims)}"
        now = self.clock()
        batch = await self.store.claim_deliveries(
            claim=claim, now=now, lease_s=self.policy.lease_s, limit=room
        )
        if batch:
            self._open_claims[claim] = len(batch)
        for claimed in batch:
            task = asyncio.get_running_loop().create_task(self._deliver(claimed))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        return len(batch)

    async def _deliver(self, claimed: ClaimedDelivery | None) -> None:
        """Attempt ``claimed``, then the endpoint's next deliveries as long as each finishing
        transaction hands one over (one transaction per delivery for a queued endpoint)."""
        claim = claimed.claim if claimed is not None else ""
        try:
            while claimed is not None:
                outcome = await self._unless_stopping(self.attempt(claimed))
                if outcome is None:
                    return  # stopping: close() releases the claim, another attempt sends it
                claimed = await self._finish(claimed, outcome)
        except Exception as exc:  # recorded by nobody: the lease runs out and it is retried
            log.warning("recording a webhook delivery failed: %s", type(exc).__name__)
        finally:
            left = self._open_claims.get(claim, 1) - 1
            if left <= 0:
                self._open_claims.pop(claim, None)
            else:
                self._open_claims[claim] = left
            self._wake.set()  # a slot is free: look for more

    async def _unless_stopping(self, attempt: Awaitable[Outcome]) -> Outcome | None:
        exchange = asyncio.ensure_future(attempt)
        stop = asyncio.ensure_future(self._stopping.wait())
        done, _ = await asyncio.wait({exchange, stop}, return_when=asyncio.FIRST_COMPLETED)
        if exchange in done:
            stop.cancel()
            return exchange.result()
        exchange.cancel()  # an HTTP exchange (never a database call) is safe to cancel
        with contextlib.suppress(asyncio.CancelledError):
            await exchange
        return None

    async def attempt(self, claimed: ClaimedDelivery) -> Outcome:
        """Post one delivery; the outcome (never raises for what a receiver does)."""
        self.attempts += 1
        endpoint = claimed.endpoint
        client = await self._http()  # not the receiver's time: before its deadline starts
        import httpx  # imported by _http

        try:
            async with asyncio.timeout(self.policy.timeout_s):
                target = ssrf.parse_url(endpoint.url)
                addresses = await self.resolve(target, endpoint.allow_private)
                outgoing = self.build(claimed, self.clock())
                return await self._post(client, target, addresses[0], outgoing)
        except TimeoutError:
            return Outcome(False, error=f"no answer within {self.policy.timeout_s:g} s")
        except RoomkeyError as exc:
            return Outcome(False, error=exc.message)
        except httpx.HTTPError as exc:
            return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS])

    async def _http(self) -> httpx.AsyncClient:
        """The HTTP client, made on a worker thread for the first delivery: importing httpx
        and loading the CA certificates took 0.15 s of a node's start, and a node may never
        deliver a webhook."""
        async with self._client_made:
            if self._client is None:
                self._client = await asyncio.to_thread(_new_client, self.policy)
        return self._client

    async def _post(
        self,
        client: httpx.AsyncClient,
        target: ssrf.Target,
        address: ssrf.IPAddress,
        outgoing: Outgoing,
    ) -> Outcome:
        literal = f"[{address}]" if address.version == 6 else str(address)
        default_port = 443 if target.scheme == "https" else 80
        host = target.host if target.port == default_port else f"{target.host}:{target.port}"
        # connect to the address that was checked; TLS checks the certificate for the name
        url = f"{target.scheme}://{literal}:{target.port}{target.path}"
        headers = {**outgoing.headers, "host": host}
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        request = client.build_request(
            "POST", url, content=outgoing.body, headers=headers, extensions=extensions
        )
        response = await client.send(request, stream=True)
        try:
            head = await self._read_capped(response)
        finally:
            await response.aclose()
        if 200 <= response.status_code < 300:
            return Outcome(True, response.status_code)
        what = "redirect (not followed)" if response.is_redirect else "answer"
        snippet = head.decode("utf-8", "replace").strip()[:200]
        error = f"{response.status_code} {what}" + (f": {snippet}" if snippet else "")
        return Outcome(False, response.status_code, error)

    async def _read_capped(self, response: httpx.Response) -> bytes:
        cap, read = self.policy.max_response_bytes, bytearray()
        async for chunk in response.aiter_raw():
            read += chunk[: max(0, cap - len(read))]
            if len(read) >= cap:
                break  # the rest is never read: closing drops the connection
        return bytes(read)

    async def _finish(self, claimed: ClaimedDelivery, outcome: Outcome) -> ClaimedDelivery | None:
        """Record ``outcome`` (with whatever else finished meanwhile, in one transaction); the
        endpoint's next delivery, if it was claimed with it."""
        attempts = claimed.delivery.attempts + 1
        retry_at = None
        if not outcome.delivered:
            retry_at = self.policy.retry_at(attempts, self.clock(), self.jitter())
        if outcome.delivered:
            self.delivered += 1
        else:
            self.failed += 1
        recorded = DeliveryOutcome(
            claimed, outcome.delivered, outcome.status_code, outcome.error, retry_at
        )
        future: asyncio.Future[ClaimedDelivery | None] = asyncio.get_running_loop().create_future()
        self._outcomes.append((recorded, future))
        self._recorded.set()
        return await future

    async def _record(self) -> None:
        """Group commit of outcomes: what attempts finished while the last batch was being
        written goes in the next transaction together (on SQLite, where writers queue, eight
        endpoints then cost about one transaction where they cost eight)."""
        while not (self._stopping.is_set() and not self._inflight and not self._outcomes):
            if not self._outcomes:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._recorded.wait(), self.policy.poll_s)
                self._recorded.clear()
                continue
            batch, self._outcomes = self._outcomes, []
            try:
                results = await self.store.finish_many(
                    [o for o, _ in batch], now=self.clock(), lease_s=self.policy.lease_s
                )
            except Exception as exc:  # each claim runs out and its delivery is retried
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (outcome, future), (kept, following) in zip(batch, results, strict=True):
                if not kept:
                    log.info(
                        "webhook delivery %d: the claim ran out first", outcome.claimed.delivery.id
                    )
                future.set_result(following)


__all__ = ["DeliveryPolicy", "DeliveryWorker", "Outcome"]


def _new_client(policy: DeliveryPolicy) -> httpx.AsyncClient:
    import httpx

    limits = httpx.Limits(
        max_connections=policy.concurrency, max_keepalive_connections=policy.concurrency
    )
    return httpx.AsyncClient(
        follow_redirects=False,
        verify=True,
        trust_env=False,  # never through a proxy from the environment: the checked address
        timeout=httpx.Timeout(policy.timeout_s),
        limits=limits,
    )
