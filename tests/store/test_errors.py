"""No SQLAlchemy, asyncpg, sqlite3 or OS exception ever leaves the store untranslated."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.schema import DropTable
from store_factories import (
    NOW,
    audit,
    ban,
    key,
    outbox_event,
    project,
    revocation,
    role,
    room,
    webhook,
)
from store_factories import claimed as claimed

from roomkey.errors import ConfigurationError, RoomkeyError
from roomkey.store import (
    ConflictError,
    DeliveryOutcome,
    ProjectSettings,
    SqlStore,
    Store,
    StoreError,
    open_store,
)
from roomkey.store.schema import metadata

Call = Callable[[SqlStore], Awaitable[Any]]

# one representative call per Store method; the test below fails if a method is missing here
CALLS: dict[str, Call] = {
    "ping": lambda s: s.ping(),
    "create_project": lambda s: s.create_project(project("px")),
    "get_project": lambda s: s.get_project("p1"),
    "list_projects": lambda s: s.list_projects(),
    "update_project_settings": lambda s: s.update_project_settings("p1", ProjectSettings()),
    "create_key": lambda s: s.create_key(key("k9")),
    "rotate_key": lambda s: s.rotate_key(key("k8", rotated_from="k1"), old_expires_at=NOW),
    "get_key": lambda s: s.get_key("k1"),
    "list_keys": lambda s: s.list_keys("p1"),
    "list_all_active_keys": lambda s: s.list_all_active_keys(now=NOW),
    "update_key_status": lambda s: s.update_key_status("k1", "disabled", now=NOW),
    "set_key_expiry": lambda s: s.set_key_expiry("k1", NOW),
    "delete_key": lambda s: s.delete_key("k1"),
    "create_room": lambda s: s.create_room(room(custom_id="c")),
    "get_room": lambda s: s.get_room("p1", "c"),
    "list_rooms": lambda s: s.list_rooms("p1"),
    "list_all_rooms": lambda s: s.list_all_rooms(),
    "deactivate_room": lambda s: s.deactivate_room("p1", "aaaa-bbbb-cccc", now=NOW),
    "set_room_locked": lambda s: s.set_room_locked("p1", "aaaa-bbbb-cccc", True),
    "upsert_role": lambda s: s.upsert_role(role()),
    "get_role": lambda s: s.get_role("p1", "presenter"),
    "list_roles": lambda s: s.list_roles("p1"),
    "delete_role": lambda s: s.delete_role("p1", "presenter"),
    "add_revocation": lambda s: s.add_revocation(revocation()),
    "lift_revocation": lambda s: s.lift_revocation("p1", "r1", now=NOW),
    "list_revocations": lambda s: s.list_revocations("p1", include_lifted=True),
    "list_active_revocations": lambda s: s.list_active_revocations(NOW),
    "load_active_revocations": lambda s: s.load_active_revocations(NOW),
    "purge_revocations": lambda s: s.purge_revocations(NOW),
    "add_ban": lambda s: s.add_ban(ban()),
    "lift_ban": lambda s: s.lift_ban("p1", "abcd-efgh-ijkl", "mallory", now=NOW),
    "get_ban": lambda s: s.get_ban("p1", "abcd-efgh-ijkl", "mallory"),
    "list_bans": lambda s: s.list_bans("p1", room="abcd-efgh-ijkl", include_lifted=True),
    "list_all_live_bans": lambda s: s.list_all_live_bans(),
    "insert_audit_many": lambda s: s.insert_audit_many([audit(), audit()]),
    "list_audit": lambda s: s.list_audit("p1", room="r", identity="i"),
    "count_audit": lambda s: s.count_audit("p1"),
    "state_revision": lambda s: s.state_revision(),
    "create_webhook": lambda s: s.create_webhook(webhook()),
    "get_webhook": lambda s: s.get_webhook("p1", "whk_1"),
    "list_webhooks": lambda s: s.list_webhooks("p1"),
    "update_webhook": lambda s: s.update_webhook(webhook()),
    "delete_webhook": lambda s: s.delete_webhook("p1", "whk_1"),
    "add_webhook_events": lambda s: s.add_webhook_events([outbox_event()]),
    "claim_deliveries": lambda s: s.claim_deliveries(claim="n:1", now=NOW, lease_s=5, limit=4),
    "finish_delivery": lambda s: s.finish_delivery(1, "n:1", now=NOW, delivered=True),
    "release_deliveries": lambda s: s.release_deliveries(["n:1"]),
    "finish_many": lambda s: s.finish_many([DeliveryOutcome(claimed(), True)], now=NOW, lease_s=5),
    "finish_and_claim_next": lambda s: s.finish_and_claim_next(
        claimed(), now=NOW, lease_s=5, delivered=True
    ),
    "list_deliveries": lambda s: s.list_deliveries("p1", endpoint_id="whk_1", status="dead"),
    "get_delivery": lambda s: s.get_delivery("p1", 1),
    "redeliver": lambda s: s.redeliver("p1", 1, now=NOW),
    "purge_webhook_log": lambda s: s.purge_webhook_log(NOW),
    "changes_since": lambda s: s.changes_since(0),
    "purge_changes": lambda s: s.purge_changes(NOW),
    "get_revocation": lambda s: s.get_revocation("p1", "rev_1"),
}


def _store_methods() -> set[str]:
    return {n for n, f in vars(Store).items() if inspect.iscoroutinefunction(f)} - {"close"}


def _assert_translated(exc: BaseException) -> None:
    assert isinstance(exc, RoomkeyError), f"untranslated {type(exc).__module__}.{type(exc)}"
    assert type(exc).__module__.startswith("roomkey."), type(exc)


def test_every_store_method_is_exercised() -> None:
    assert set(CALLS) == _store_methods()


async def test_broken_schema_surfaces_only_store_errors(store: SqlStore) -> None:
    async with store._engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(DropTable(table))
    for name, call in CALLS.items():
        if name == "ping":
            continue  # SELECT 1 needs no table
        with pytest.raises(StoreError) as caught:
            await call(store)
        _assert_translated(caught.value)
        assert caught.value.__cause__ is not None, name


async def test_closed_store_refuses_every_call(store: SqlStore) -> None:
    await store.close()
    for call in CALLS.values():
        with pytest.raises(StoreError, match="closed"):
            await call(store)


async def test_conflict_is_translated_with_the_driver_error_as_cause(store: SqlStore) -> None:
    await store.create_project(project("p1"))
    with pytest.raises(ConflictError) as caught:
        await store.create_project(project("p1"))
    _assert_translated(caught.value)
    assert "p1" not in caught.value.message  # row values stay out of messages


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:1/test",
        "postgresql://postgres@no-such-host.invalid/test",
    ],
)
async def test_unreachable_postgres_is_a_store_error(url: str) -> None:
    with pytest.raises(StoreError) as caught:
        await open_store(url)
    _assert_translated(caught.value)


async def test_corrupt_sqlite_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "roomkey.db"
    path.write_bytes(b"this is not a database" * 500)
    with pytest.raises(StoreError) as caught:
        await open_store(f"sqlite:///{path}")
    _assert_translated(caught.value)


async def test_sqlite_directory_that_cannot_exist_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError):
        await open_store(f"sqlite:///{tmp_path / 'file' / 'sub' / 'roomkey.db'}")


@pytest.mark.parametrize("url", ["mysql://x@y/z", "not a url", "sqlite+pysqlcipher:///x.db"])
async def test_unsupported_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError):
        await open_store(url)


async def test_schema_on_sqlite_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        await open_store(f"sqlite:///{tmp_path / 'x.db'}", schema="rk")
