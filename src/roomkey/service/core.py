"""The service container: opens the store, loads memory, bootstraps, refreshes, closes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from roomkey._files import private_dir
from roomkey.capabilities import Capability
from roomkey.errors import ConfigurationError, NotReadyError
from roomkey.grants import Scope
from roomkey.minting import TokenMinter
from roomkey.secretbox import SecretBox
from roomkey.service.admission.service import AdmissionService
from roomkey.service.audit import AuditWriter
from roomkey.service.auth import Caller, authenticate, authorize
from roomkey.service.bans import BanService
from roomkey.service.context import Context
from roomkey.service.feed import RETENTION_S, ChangeApplier, ChangeFeed, RedisCarrier
from roomkey.service.keys import KeyService
from roomkey.service.projects import Bootstrap, ProjectService
from roomkey.service.redis import open_redis
from roomkey.service.revocations import RevocationService
from roomkey.service.roles import RoleService, role_from_record
from roomkey.service.rooms import RoomService
from roomkey.service.settings import DEV_API_KEY, DEV_API_SECRET, ServerSettings
from roomkey.service.state import ProjectState, ServerState, load_revocations
from roomkey.service.tokens import TokenService
from roomkey.service.webhooks import WebhookService
from roomkey.store import ActiveRevocations, Store, open_store, upgrade

if TYPE_CHECKING:
    from roomkey.store.preload import RevocationPreload

log = logging.getLogger("roomkey.service")
DEV_PROJECT = "dev"
HOUSEKEEPING_INTERVAL_S = 60.0
# jti rules loaded in bulk are filed this many at a time once the node serves (about 8 ms each;
# 1,000,000 rules took 0.45 s in all, which a start no longer waits for), with a pause between
# slices for whatever else the event loop has to do
FILING_SLICE = 20_000
FILING_PAUSE_S = 0.005
SWEEP_INTERVAL_S = 1.0  # knock expiry and the WebSocket grace period, to the second


def open_secret_box(settings: ServerSettings) -> SecretBox:
    """The master key from the setting, or the 0600 key file in the data directory.

    Raises:
        ConfigurationError: the data directory or the key file cannot be used (see
            :func:`make_data_dir` and :meth:`SecretBox.from_file`).
    """
    if settings.master_key is not None:
        return SecretBox.from_b64(settings.master_key.get_secret_value())
    make_data_dir(settings)
    return SecretBox.from_file(settings.data_dir / "master.key")


def make_data_dir(settings: ServerSettings) -> None:
    """Create the data directory with mode 0700, or set an existing one to 0700.

    It holds the master key and the SQLite database (with the audit log): no other local user
    may list or open them.

    Raises:
        ConfigurationError: it cannot be created or its mode cannot be set.
    """
    try:
        private_dir(settings.data_dir)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the data directory or make it private (mode 700): {exc.strerror}",
            path=str(settings.data_dir),
        ) from exc


def upgrade_database(settings: ServerSettings) -> str:
    """Migrate the settings' database to the newest schema revision; that revision.

    Raises StoreError when the database cannot be reached or migrated.
    """
    if settings.database_url is None:
        make_data_dir(settings)
    return upgrade(settings.resolved_database_url())


class RoomkeyService:
    """Every use case of the server, over one store and one in-memory state."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.keys = KeyService(ctx)
        self.projects = ProjectService(ctx, self.keys)
        self.rooms = RoomService(ctx)
        self.roles = RoleService(ctx)
        self.revocations = RevocationService(ctx)
        self.bans = BanService(ctx, self.rooms, self.revocations)
        self.webhooks = WebhookService(ctx)
        ctx.events_written = self.webhooks.wake
        self.audit = AuditWriter(
            ctx.store, ctx.settings.audit_batch_max, self.webhooks.token_events
        )
        self.tokens = TokenService(ctx, self.keys, self.rooms, self.audit)
        self.admission = AdmissionService(
            ctx, self.tokens, self.rooms, self.bans, self._moderator, redis=open_redis(ctx.settings)
        )
        self.revocations.listeners.append(self.admission.on_revoked)
        self.rooms.listeners.append(self.admission.on_room_deactivated)
        self.admission.observers.append(self.webhooks.on_admission_event)
        self.bootstrap: Bootstrap | None = None
        self.feed = self._feed()
        self._feed_started = False
        self._housekeeper: asyncio.Task[None] | None = None
        self._filer: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls,
        settings: ServerSettings,
        *,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
        bootstrap_only: bool = False,
        create_first_project: bool = True,
        preload: RevocationPreload | None = None,
    ) -> RoomkeyService:
        """Open the store (migrating it), load memory, bootstrap a first project if empty.

        ``bootstrap_only`` is for a start-up step that migrates and bootstraps, then closes the
        service: it loads no revocations (with 1,000,000 of them that halves ``roomkey serve``'s
        start) and starts no background task, so such a service must not verify tokens.
        Without ``create_first_project`` nothing is bootstrapped: a tool that only reads the
        projects (``roomkey admin token``) never creates one whose secret nobody would see.
        """
        box = open_secret_box(settings)
        if store is None:
            if settings.database_url is None:
                make_data_dir(settings)
            store = await open_store(settings.resolved_database_url())
        service = cls(Context(store=store, box=box, settings=settings, clock=clock))
        if preload is not None and preload.database_url != settings.resolved_database_url():
            preload = None  # read from another database: never filed here
        await service.reload(revocations=not bootstrap_only, preload=preload)
        if create_first_project:
            await service._bootstrap()
        if bootstrap_only:
            return service
        service.audit.start()
        await service.webhooks.start()
        service.admission.start()
        service._housekeeper = asyncio.get_running_loop().create_task(service._housekeeping())
        service._sweeper = asyncio.get_running_loop().create_task(service._sweeping())
        if service.shares_its_database:
            service.feed.start(service.feed.applied)
            service._feed_started = True
        service._file_revocations()  # last: nothing of the start waits for it
        return service

    def _feed(self) -> ChangeFeed:
        applier = ChangeApplier(
            self.ctx, self.keys, self.revocations.listeners, self.rooms.listeners
        )
        carrier = None
        if self.ctx.settings.redis_url is not None:

            def carrier(feed: ChangeFeed) -> RedisCarrier:
                link = open_redis(self.ctx.settings)
                assert link is not None
                return RedisCarrier(link, feed.received, feed.request_catch_up)

        return ChangeFeed(self.ctx, applier, self.reload, carrier)

    @property
    def shares_its_database(self) -> bool:
        """Whether other processes may write this node's database (several workers or nodes,
        PostgreSQL, Redis): then the change feed runs."""
        settings = self.ctx.settings
        return (
            settings.workers > 1
            or settings.redis_url is not None
            or not settings.resolved_database_url().startswith("sqlite")
        )

    async def close(self) -> None:
        """Flush the audit log, stop refreshing, close the store."""
        if self._feed_started:
            await self.feed.close()
        for task in (self._housekeeper, self._sweeper, self._filer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.admission.close()
        await self.audit.close()
        await self.webhooks.close()
        await self.ctx.store.close()

    @property
    def settings(self) -> ServerSettings:
        """The node's server settings."""
        return self.ctx.settings

    async def check_ready(self) -> dict[str, object]:
        """What /readyz shows: the keys loaded and the change feed's state, once the database
        answers; raises NotReadyError."""
        try:
            await self.ctx.store.ping()
        except Exception as exc:  # whatever the failure, the node cannot serve
            raise NotReadyError("the database does not answer") from exc
        ready: dict[str, object] = {"status": "ready", "keys": len(self.ctx.state.keyring)}
        if self._feed_started:
            ready["feed"] = self.feed.status()
        cluster = getattr(self.admission, "cluster", None)
        if cluster is not None:  # live rooms shared through Redis (503 while it is away)
            ready["admission"] = {"redis": "connected" if cluster.bus.up else "down"}
        return ready

    # ---- loading -------------------------------------------------------------------------

    async def reload(
        self, *, revocations: bool = True, preload: RevocationPreload | None = None
    ) -> int:
        """Rebuild the in-memory state from the store and swap it in; the revision it reflects.

        The change feed then applies what comes after that revision. With ``preload``, the
        revocations it read are filed, and every change after its snapshot's revision is applied
        before this returns.
        """
        preloaded = await preload.take() if preload is not None and revocations else None
        async with self.ctx.write_lock:  # no change is filed meanwhile, then swapped away
            # read first: a change committed while loading is applied again by the feed
            revision = await self.ctx.store.state_revision()
            if preloaded is not None:  # read earlier, on a snapshot of its own
                revision = min(revision, preloaded.revision)
            await self._reload(revocations, preloaded.revocations if preloaded else None)
            self.feed.applied = revision
        if preloaded is not None and await self.ctx.store.state_revision() > revision:
            await self.feed.catch_up()  # what was committed since the preload's snapshot
        return self.feed.applied

    async def refresh(self) -> bool:
        """Apply now whatever the change feed holds after this node's revision; True if any.

        One small query when nothing changed; each change reads only the thing it names.
        """
        return await self.feed.catch_up() > 0

    async def _reload(
        self, revocations: bool, loaded: Mapping[str, ActiveRevocations] | None = None
    ) -> None:
        store, fresh = self.ctx.store, ServerState()
        now = self.ctx.now()
        for project in await store.list_projects():
            fresh.projects[project.id] = ProjectState(project)
            for role in await store.list_roles(project.id):
                fresh.projects[project.id].roles[role.name] = role_from_record(role)
        for room in await store.list_all_rooms():
            fresh.put_room(room)
        for ban in await store.list_all_live_bans():
            if ban.project_id in fresh.projects:
                fresh.projects[ban.project_id].bans[(ban.room, ban.identity)] = ban
        if revocations:
            if loaded is None:
                loaded = await store.load_active_revocations(now)
            load_revocations(fresh.projects, loaded)
        records = await store.list_all_active_keys(now=now)
        self._swap(fresh)  # no await from here on: verifiers never see an empty key ring
        for record in records:
            self.keys.load(record)
        if revocations and self._filer is not None:  # a reload of a node that serves
            self._file_revocations()

    def _file_revocations(self) -> None:
        """File the jti rules the last load took as columns, a slice at a time (see
        roomkey.revocation): every check is exact meanwhile; a match of a rule not filed yet
        costs a scan of the rest of the column instead of a lookup."""
        if self._filer is None or self._filer.done():
            self._filer = asyncio.get_running_loop().create_task(self._filing())

    async def _filing(self) -> None:
        while not all(
            project.revocations.file_some(FILING_SLICE)
            for project in list(self.ctx.state.projects.values())
        ):
            await asyncio.sleep(FILING_PAUSE_S)

    def _swap(self, fresh: ServerState) -> None:
        state = self.ctx.state
        state.projects = fresh.projects
        state.room_owner = fresh.room_owner
        for kid in list(state.keys):
            self.keys.unload(kid)

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL_S)
            try:
                await self.prune_revocations()
                await self.ctx.store.purge_changes(self.ctx.clock() - RETENTION_S)
            except Exception as exc:  # retried at the next tick
                log.warning("revocation pruning failed: %s", type(exc).__name__)

    async def _sweeping(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                self.admission.sweep()
            except Exception as exc:  # retried at the next tick
                log.warning("admission sweep failed: %s", type(exc).__name__)

    async def prune_revocations(self) -> int:
        """Forget revocations that no longer cover any valid token, in memory and in the store."""
        now = self.ctx.now()
        dropped = sum(p.revocations.prune(now) for p in self.ctx.state.projects.values())
        await self.ctx.store.purge_revocations(now)
        return dropped

    # ---- bootstrap -----------------------------------------------------------------------

    async def _bootstrap(self) -> None:
        # nodes starting at once on an empty database: one creates the project, the others
        # wait for it here and find it
        async with self.ctx.store.exclusive("roomkey-bootstrap"):
            if not self.ctx.state.projects and await self.ctx.store.list_projects():
                await self.reload()
            await self._bootstrap_locked()

    async def _bootstrap_locked(self) -> None:
        if self.ctx.settings.dev:
            await self.projects.ensure(DEV_PROJECT, "development", admin=True)
            await self.keys.ensure_dev_key(DEV_PROJECT)
            await self.projects.ensure_signing_key(DEV_PROJECT)
            self.bootstrap = Bootstrap(
                DEV_PROJECT,
                DEV_API_KEY,
                DEV_API_SECRET,
                self.admin_token(DEV_PROJECT, kid=DEV_API_KEY),
            )
            return
        if self.ctx.state.projects:
            return
        created = await self.projects.create("default", admin=True)
        self.bootstrap = Bootstrap(
            created.project_id,
            created.api_key,
            created.api_secret,
            self.admin_token(created.project_id, kid=created.api_key),
        )

    def _admin_kid(self, project_id: str) -> str:
        kid = next(
            (
                r.kid
                for r in self.ctx.state.keys.values()
                if r.project_id == project_id and r.purpose == "api"
            ),
            None,
        )
        if kid is not None:
            return kid
        hint = ""
        if project_id == DEV_PROJECT and not self.ctx.settings.dev:
            # the development key is never loaded outside development mode (KeyService.load)
            hint = (
                f"; its key is the development key {DEV_API_KEY!r}, used only in development "
                "mode: pass --dev (as to 'roomkey serve --dev')"
            )
        raise ConfigurationError(
            f"project {project_id!r} has no active API key to sign an admin token with{hint}"
        )

    # ---- callers -------------------------------------------------------------------------

    def authenticate(self, header: str | None) -> Caller:
        """The caller behind an Authorization header, whatever it may do.

        Raises AuthenticationError (no valid token) or ForbiddenError (a signing-key token).
        """
        return authenticate(self.tokens.verifier, header, self.ctx.state)

    def authorize(
        self, header: str | None, needed: Capability, *, room: str | None = None
    ) -> Caller:
        """The caller behind an Authorization header, holding ``needed``.

        Raises AuthenticationError (no valid token) or ForbiddenError (``details.missing``).
        """
        return authorize(self.tokens.verifier, header, self.ctx.state, needed, room=room)

    def _moderator(self, header: str | None, needed: Capability, room: str) -> Caller:
        return self.authorize(header, needed, room=room)

    def admin_token(
        self,
        project_id: str,
        *,
        kid: str | None = None,
        ttl_s: int = 3600,
        capabilities: Iterable[Capability | str] = (Capability.ADMIN,),
    ) -> str:
        """A server-scope token for the project holding ``capabilities`` (default: admin).

        The bootstrap admin credential, and ``roomkey admin token --permissions ...``. Raises
        :class:`ConfigurationError` when the project has no API key loaded to sign with.
        """
        kid = kid or self._admin_kid(project_id)
        key = self.ctx.state.keyring.get(kid, self.ctx.now())
        assert key is not None, "the admin key is not loaded"
        minter = TokenMinter(key, "native", max_ttl_s=max(ttl_s, 60), now=self.ctx.clock)
        permissions = {"scope": [Scope.API], "capabilities": [str(c) for c in capabilities]}
        return minter.mint(identity="admin", permissions=permissions, ttl=ttl_s).token
