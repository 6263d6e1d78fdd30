"""End to end against real `roomkey serve` processes, on SQLite and on PostgreSQL.

One scenario per backend: every way to mint, verify, rooms, roles, every revocation kind,
rotation, then a restart on the same data proving nothing accepted was lost, and a scan of the
server's logs for secrets and tokens.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import Banner, Server

from roomkey.grants import Scope
from roomkey.minting import AccessToken

pytestmark = pytest.mark.slow


class Session:
    """The scenario's state: the client, the admin headers, every token the server handed out."""

    def __init__(self, server: Server, banner: Banner) -> None:
        self.server, self.banner = server, banner
        self.http = server.client()
        self.auth = {"Authorization": f"Bearer {banner.admin_token}"}
        self.issued: list[str] = []
        self.secrets: list[str] = [banner.api_secret]

    def mint(
        self, path: str = "/v1/tokens", headers: dict[str, str] | None = None, **body: Any
    ) -> str:
        response = self.http.post(path, json=body, headers=headers or self.auth)
        assert response.status_code in (200, 201), response.text
        token = _token_of(response)
        self.issued.append(token)
        return token

    def verify(self, token: str, **kw: Any) -> dict[str, Any]:
        response = self.http.post("/v1/tokens/verify", json={"token": token, **kw})
        assert response.status_code == 200, response.text
        out: dict[str, Any] = response.json()
        return out

    def code(self, token: str, **kw: Any) -> str | None:
        out = self.verify(token, **kw)
        return None if out["valid"] else str(out["code"])

    def call(self, method: str, path: str, status: int, **kw: Any) -> Any:
        response = self.http.request(method, path, headers=kw.pop("headers", self.auth), **kw)
        assert response.status_code == status, response.text
        return response.json() if response.content else None


def _token_of(response: httpx.Response) -> str:
    if response.headers["content-type"].startswith("text/plain"):
        return response.text
    body = response.json()
    return str(body.get("token") or body["participant_token"])


def offline(api_key: str, secret: str, *, scope: Scope = Scope.ROOM, **kw: Any) -> str:
    """A token signed by an SDK holding the secret (never seen by the server's issuing code)."""
    builder = AccessToken(api_key, secret).with_identity(kw.get("identity", "sdk-user"))
    if scope is Scope.API:
        return builder.with_scope(Scope.API).with_permissions(capabilities=["admin"]).to_jwt()
    return builder.with_room(kw.get("room", "standup")).to_jwt()


def test_full_lifecycle_survives_a_restart(server: Server) -> None:
    banner = Banner.read(server.data_dir)
    s = Session(server, banner)

    # ---- keys: the secret appears once -------------------------------------------------
    created = s.call("POST", "/v1/keys", 201, json={"description": "ci"})
    k2, s2 = created["api_key"], created["api_secret"]
    s.secrets.append(s2)
    listed = s.http.get("/v1/keys", headers=s.auth)
    assert s2 not in listed.text and banner.api_secret not in listed.text

    # ---- mint through every endpoint ---------------------------------------------------
    dialect_tokens = {
        d: s.mint(identity="alice", room="standup", dialect=d)
        for d in ("native", "livekit", "videosdk", "huddle01")
    }
    raw = b'{"room_name":"r1","participant_identity":"alice"}'
    curl_like = {**s.auth, "Content-Type": "application/x-www-form-urlencoded"}
    for headers in (curl_like, s.auth, {"Authorization": banner.admin_token}):
        response = s.http.post("/token", content=raw, headers=headers)
        assert response.status_code == 201, response.text
        s.issued.append(_token_of(response))
    template = s.mint("/createToken", roomName="r1", participantName="bob")
    s.call("PATCH", "/v1/project", 200, json={"sandbox_enabled": True})
    sandbox = s.mint(
        "/api/v2/sandbox/connection-details",
        headers={"X-Sandbox-ID": banner.project_id},
        room_name="r1",
    )
    for dialect, token in dialect_tokens.items():
        out = s.verify(token, room="standup", identity="alice")
        assert out["valid"] and out["dialect"] == dialect
    for token in (*s.issued[4:7], template, sandbox):
        assert s.verify(token)["valid"]
        rtc = s.http.get("/rtc/validate", params={"access_token": token})
        assert rtc.status_code == 200 and rtc.json()["valid"]

    # ---- rooms and roles ---------------------------------------------------------------
    first = s.call("POST", "/v1/rooms", 201, json={"customRoomId": "daily"})
    again = s.call("POST", "/v1/rooms", 200, json={"customRoomId": "daily"})
    assert first["roomId"] == again["roomId"]
    perms = {"canPublish": True, "sources": ["screen"], "canSubscribe": True}
    s.call("PUT", "/v1/roles/presenter", 200, json={"permissions": perms})
    presenter = s.mint(identity="pat", room="daily", role="presenter")
    assert s.verify(presenter)["grant"]["sources"] == ["screen"]

    # ---- every revocation kind ---------------------------------------------------------
    by_jti = s.mint(identity="j", room="daily")
    by_identity = s.mint(identity="mallory", room="r1")
    by_identity_room = s.mint(identity="trudy", room="daily")
    trudy_elsewhere = s.mint(identity="trudy", room="r1")
    by_room = s.mint(identity="x", room="doomed")
    k3 = s.call("POST", "/v1/keys", 201, json={"description": "to revoke"})
    s.secrets.append(k3["api_secret"])
    k3_admin = offline(k3["api_key"], k3["api_secret"], scope=Scope.API)
    by_key = s.mint(headers={"Authorization": f"Bearer {k3_admin}"}, identity="k", room="r1")
    jti = s.verify(by_jti)["claims"]["jti"]
    rules = {
        "jti": {"jti": jti},
        "identity": {"identity": "mallory"},
        "identity_room": {"identity": "trudy", "room": "daily"},
        "room": {"room": "doomed"},
        "key": {"kid": k3["api_key"]},
    }
    ids = {
        name: s.call("POST", "/v1/revocations", 201, json=body)["id"]
        for name, body in rules.items()
    }
    revoked = [by_jti, by_identity, by_identity_room, by_room, by_key]
    assert [s.code(t) for t in revoked] == ["revoked"] * 5
    assert s.code(trudy_elsewhere) is None
    # issued_before: a server token an SDK signed two minutes ago falls under it
    past = AccessToken(banner.api_key, banner.api_secret, now=lambda: time.time() - 120)
    old_timer = (
        past.with_identity("old-timer")
        .with_scope(Scope.API)
        .with_permissions(capabilities=["keys"])
        .with_ttl(3600)
        .to_jwt()
    )
    assert s.code(old_timer, scope="api") is None
    server_now = s.verify(trudy_elsewhere)["claims"]["issued_at"]  # the server clock, not ours
    cutoff = s.call("POST", "/v1/revocations", 201, json={"issued_before": server_now - 60})
    assert s.code(old_timer, scope="api") == "revoked"
    body = s.call("GET", "/v1/keys", 401, headers={"Authorization": f"Bearer {old_timer}"})
    assert body["details"]["reason"] == "revoked"
    assert s.code(by_key) == "revoked" and s.code(trudy_elsewhere) is None  # newer: untouched
    # lift one: the issued_before rule
    s.call("DELETE", f"/v1/revocations/{cutoff['id']}", 200)
    assert s.code(old_timer, scope="api") is None
    s.call("GET", "/v1/keys", 200, headers={"Authorization": f"Bearer {old_timer}"})

    # ---- rotation: overlap, then disable -------------------------------------------------
    before_rotation = offline(k2, s2)
    rotated = s.call("POST", f"/v1/keys/{k2}/rotate", 201, json={"overlap_s": 3600})
    k2b, s2b = rotated["api_key"], rotated["api_secret"]
    s.secrets.append(s2b)
    assert s.code(before_rotation) is None  # old key still verifies during the overlap
    assert s.code(offline(k2b, s2b)) is None
    s.call("POST", f"/v1/keys/{k2}/disable", 200)
    assert s.code(before_rotation) == "bad_signature"

    # ---- room state, scopes, bad tokens ---------------------------------------------------
    closing = s.mint(identity="c", room="closing")
    s.call("POST", "/v1/rooms/closing/deactivate", 200)
    assert s.code(closing) == "room_inactive"
    participant = {"Authorization": f"Bearer {dialect_tokens['native']}"}
    assert s.call("GET", "/v1/keys", 403, headers=participant)["error"] == "forbidden"
    for header, reason in (
        ("Bearer garbage", "malformed"),
        ("Bearer " + "a" * 9000, "token_too_large"),
    ):
        body = s.call("GET", "/v1/rooms", 401, headers={"Authorization": header})
        assert "Token is invalid or expired" in body["message"]
        assert body["details"]["reason"] == reason
    expired = AccessToken(banner.api_key, banner.api_secret, now=lambda: time.time() - 7200)
    old = expired.with_identity("admin").with_scope(Scope.API).with_ttl(60).to_jwt()
    body = s.call("GET", "/v1/rooms", 401, headers={"Authorization": f"Bearer {old}"})
    assert body["details"]["reason"] == "expired"
    s.call("PATCH", "/v1/project", 200, json={"auto_create_rooms": False})
    body = s.call("POST", "/v1/tokens", 404, json={"identity": "u", "room": "never-made"})
    assert body["error"] == "unknown_room"
    assert s.code(offline(banner.api_key, banner.api_secret, room="never-made")) == "unknown_room"

    metrics = s.http.get("/metrics").text
    assert 'roomkey_tokens_issued_total{dialect="huddle01",endpoint="/v1/tokens"} 1.0' in metrics
    assert 'roomkey_verifications_total{outcome="revoked"}' in metrics
    assert s.http.get("/readyz").json()["status"] == "ready"
    issued_before_restart = len(s.issued)
    s.http.close()

    # ---- restart on the same data: nothing accepted is lost ----------------------------
    server.restart()
    assert banner.api_secret not in server.stdout()  # handed over on the first start only
    s.http = server.client()
    assert s.code(offline(banner.api_key, banner.api_secret, room="daily")) is None
    assert s.code(offline(k2b, s2b, room="daily")) is None
    assert s.code(before_rotation) == "bad_signature"
    rooms = s.call("GET", "/v1/rooms", 200, params={"limit": 200})["data"]
    assert {"daily", "standup", "closing"} <= {r["customRoomId"] for r in rooms}
    assert s.call("GET", "/v1/roles/presenter", 200)["permissions"] == perms
    assert [s.code(t) for t in revoked] == ["revoked"] * 5
    assert s.code(trudy_elsewhere) is None and s.code(banner.admin_token, scope="api") is None
    assert s.code(closing) == "room_inactive"
    assert s.call("GET", "/v1/project", 200)["settings"]["auto_create_rooms"] is False
    listed_rules = s.call("GET", "/v1/revocations", 200)
    assert {r["id"] for r in listed_rules} == set(ids.values())
    audit = s.call("GET", "/v1/audit", 200, params={"limit": 500})
    assert audit["next_cursor"] is None
    assert len(audit["data"]) == len(s.issued) == issued_before_restart
    assert all(row["kid"] and row["endpoint"] for row in audit["data"])
    endpoints = sorted({row["endpoint"] for row in audit["data"]})
    assert endpoints == ["/api/v2/sandbox", "/createToken", "/token", "/v1/tokens"]
    s.http.close()

    # ---- logs: no secret and no token ever reaches them ------------------------------------
    server.stop()
    logs = server.stderr(1) + server.stderr(2)
    assert '"msg":"request"' in logs  # the access log is on, so this scan means something
    leaked = [x for x in (*s.secrets, *s.issued, old_timer, k3_admin) if x in logs]
    assert leaked == []
    assert all(x not in server.stdout(2) for x in s.secrets)


def test_the_data_dir_of_a_running_server_is_owner_only(tmp_path: Path) -> None:
    """Started with the usual umask (022) on SQLite: nothing in the data directory (the master
    key, the database with the audit log, its WAL files) is readable by another local user."""
    logs = tmp_path / "logs"
    logs.mkdir()
    server = Server(data_dir=tmp_path / "data", log_dir=logs)
    old = os.umask(0o022)  # inherited by the server process
    try:
        server.start()
        files = ("master.key", "roomkey.db", "roomkey.db-wal", "roomkey.db-shm")
        modes = {name: stat.S_IMODE(os.stat(server.data_dir / name).st_mode) for name in files}
        assert stat.S_IMODE(os.stat(server.data_dir).st_mode) == 0o700
        assert modes == dict.fromkeys(files, 0o600)
    finally:
        os.umask(old)
        server.stop()
