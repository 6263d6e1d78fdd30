"""The inspector, the playground and the room page's watch token, in process."""

from __future__ import annotations

import logging

import httpx
import pytest
from dashboard_support import mint, post, server_token, sign_in

from roomkey.grants import Scope
from roomkey.service import Bootstrap, RoomkeyService
from roomkey.service.dashboard import PLAYGROUND_MAX_TTL_S


def _auth(boot: Bootstrap) -> dict[str, str]:
    return {"Authorization": f"Bearer {boot.admin_token}"}


async def _inspect(client: httpx.AsyncClient, token: str, **fields: str) -> str:
    answer = await post(client, "/dashboard/inspector", {"token": token, **fields})
    assert answer.status_code == 200, answer.text
    return answer.text


async def test_a_valid_token_passes_every_check(admin: httpx.AsyncClient, boot: Bootstrap) -> None:
    token = await mint(admin, boot.admin_token, identity="alice", room="standup")
    page = await _inspect(admin, token, room="standup")
    assert "Valid: the token is valid" in page
    assert page.count('class="status passed"') == 7 and "status failed" not in page


async def test_a_revoked_token_says_when(admin: httpx.AsyncClient, boot: Bootstrap) -> None:
    token = await mint(admin, boot.admin_token, identity="carol", room="standup")
    revoked = await admin.post("/v1/revocations", json={"identity": "carol"}, headers=_auth(boot))
    assert revoked.status_code == 201
    page = await _inspect(admin, token)
    assert "Refused: revoked (identity &#39;carol&#39;) at" in page
    assert "<time datetime=" in page


async def test_a_disabled_key_is_named(admin: httpx.AsyncClient, boot: Bootstrap) -> None:
    created = await admin.post("/v1/keys", json={}, headers=_auth(boot))
    kid, secret = created.json()["api_key"], created.json()["api_secret"]
    from roomkey.minting import AccessToken

    token = AccessToken(kid, secret).with_identity("dave").with_room("r").with_ttl(600).to_jwt()
    assert (await admin.post(f"/v1/keys/{kid}/disable", headers=_auth(boot))).status_code == 200
    page = await _inspect(admin, token)
    assert f"signed with a disabled key &#39;{kid}&#39;" in page


async def test_wrong_room_and_a_foreign_token(admin: httpx.AsyncClient, boot: Bootstrap) -> None:
    token = await mint(admin, boot.admin_token, identity="erin", room="standup")
    page = await _inspect(admin, token, room="other")
    assert "Refused: the token is for another room" in page
    from roomkey.minting import AccessToken

    foreign = AccessToken("APIforeign", "x" * 40).with_identity("f").with_ttl(60).to_jwt()
    page = await _inspect(admin, foreign)
    assert "no key &#39;APIforeign&#39; in this project" in page


async def test_garbage_is_explained_not_an_error(admin: httpx.AsyncClient) -> None:
    page = await _inspect(admin, "a.b")
    assert "Refused" in page and "not a compact JWT" in page


async def test_nothing_pasted_reaches_a_log(
    admin: httpx.AsyncClient, boot: Bootstrap, caplog: pytest.LogCaptureFixture
) -> None:
    token = await mint(admin, boot.admin_token, identity="gail", room="standup")
    with caplog.at_level(logging.DEBUG):
        await _inspect(admin, token)
        await _inspect(admin, token[:-3] + "AAA")
    assert all(token[40:80] not in r.getMessage() + str(vars(r)) for r in caplog.records)


async def test_the_playground_caps_labels_and_audits(
    admin: httpx.AsyncClient, boot: Bootstrap
) -> None:
    form = {"dialect": "native", "room": "standup", "identity": "hal", "ttl_s": "86400"}
    answer = await post(admin, "/dashboard/playground", form, **{"HX-Request": "true"})
    assert answer.status_code == 200, answer.text
    assert "Temporary" in answer.text and "was capped at 1 hour" in answer.text
    audit = await admin.get("/v1/audit", params={"identity": "hal"}, headers=_auth(boot))
    (row,) = audit.json()["data"]
    assert row["endpoint"] == "dashboard:playground"
    assert row["expires_at"] - row["issued_at"] == PLAYGROUND_MAX_TTL_S
    assert "$ROOMKEY_TOKEN" in answer.text and boot.admin_token not in answer.text


async def test_the_playground_takes_custom_permissions_and_names_problems(
    admin: httpx.AsyncClient,
) -> None:
    form = {"dialect": "native", "room": "r", "identity": "ivy", "custom": "on"}
    form.update({"can_consume": "on", "join": "ask"})
    answer = await post(admin, "/dashboard/playground", form)
    assert answer.status_code == 200, answer.text
    assert "may not publish any track" in answer.text
    assert "waits in the lobby until someone admits it" in answer.text
    # what a format cannot carry is named, never dropped
    answer = await post(admin, "/dashboard/playground", {**form, "dialect": "livekit"})
    assert answer.status_code == 400 and "unsupported_by_dialect" in answer.text
    bad = await post(admin, "/dashboard/playground", {"metadata": "{nope"})
    assert bad.status_code == 400 and "metadata is not JSON" in bad.text
    contradiction = {"identity": "j", "custom": "on", "moderate": "on", "join": "ask"}
    refused = await post(admin, "/dashboard/playground", contradiction)
    assert refused.status_code == 400 and "contradicts" in refused.text


async def test_the_playground_grants_no_more_than_the_session_holds(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    token = await server_token(client, boot.admin_token, "tokens:issue")
    assert (await sign_in(client, token)).status_code == 303
    form = {"identity": "k", "custom": "on", "can_consume": "on"}
    answer = await post(client, "/dashboard/playground", form)
    assert answer.status_code == 200  # a participant token is fine
    # a server token with keys is not: the issuing path's subset check
    answer = await client.post(
        "/v1/tokens",
        json={"permissions": {"scope": ["api"], "capabilities": ["keys"]}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 403


async def test_the_watch_token_is_short_room_bound_and_audited(
    admin: httpx.AsyncClient, boot: Bootstrap, service: RoomkeyService
) -> None:
    created = await admin.post("/v1/rooms", json={"customRoomId": "hall"}, headers=_auth(boot))
    assert created.status_code == 201
    answer = await post(admin, "/dashboard/rooms/hall/watch")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    watch = answer.json()["token"]
    verified = service.tokens.verifier.verify(watch, scope=Scope.API)
    assert verified.claims.room == "hall"
    assert sorted(c.value for c in verified.grant.capabilities) == ["rooms:moderate"]
    assert verified.claims.expires_at - verified.claims.issued_at == 60
    other_room = await admin.get(
        "/v1/rooms/else/participants", headers={"Authorization": f"Bearer {watch}"}
    )
    assert other_room.status_code == 403
    audit = await admin.get("/v1/audit", params={"room": "hall"}, headers=_auth(boot))
    assert [r["endpoint"] for r in audit.json()["data"]] == ["dashboard:watch"]


async def test_the_room_page_admits_mutes_and_removes(
    admin: httpx.AsyncClient, boot: Bootstrap
) -> None:
    assert (
        await admin.post("/v1/rooms", json={"customRoomId": "desk"}, headers=_auth(boot))
    ).is_success
    token = await mint(
        admin, boot.admin_token, identity="lee", room="desk", permissions={"join": "ask"}
    )
    joined = await admin.post("/v1/rooms/desk/join", headers={"Authorization": f"Bearer {token}"})
    assert joined.status_code == 202
    session = joined.json()["session_id"]
    page = await admin.get("/dashboard/rooms/desk")
    assert page.status_code == 200 and "Admit lee" in page.text
    htmx = {"HX-Request": "true"}
    admitted = await post(admin, f"/dashboard/rooms/desk/lobby/{session}/admit", **htmx)
    assert admitted.status_code == 200 and "Mute the microphone of lee" in admitted.text
    twice = await post(admin, f"/dashboard/rooms/desk/lobby/{session}/admit", **htmx)
    assert twice.status_code == 400 and "already_decided" in twice.text
    muted = await post(admin, "/dashboard/rooms/desk/participants/lee/mute", **htmx)
    assert "muted: mic" in muted.text
    removed = await post(admin, "/dashboard/rooms/desk/participants/lee/remove", {"ban": "on"})
    assert removed.status_code == 303
    banned = await admin.get("/v1/rooms/desk/bans", headers=_auth(boot))
    assert [b["identity"] for b in banned.json()] == ["lee"]
