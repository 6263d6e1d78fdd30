"""The roles page (presets shown, custom roles created, replaced and deleted) and a room's bans
(ban, lift), in process."""

from __future__ import annotations

import httpx
from dashboard_support import mint, post, server_token, sign_in

from roomkey.service import Bootstrap


def _auth(boot: Bootstrap) -> dict[str, str]:
    return {"Authorization": f"Bearer {boot.admin_token}"}


async def test_the_presets_are_shown_and_a_custom_role_is_made_and_deleted(
    admin: httpx.AsyncClient, boot: Bootstrap
) -> None:
    page = await admin.get("/dashboard/roles")
    assert page.status_code == 200
    for preset in ("host", "coHost", "guest", "speaker", "listener", "bot"):
        assert f"<code>{preset}</code>" in page.text
    made = await post(
        admin,
        "/dashboard/roles",
        {"name": "panelist", "can_consume": "on", "can_produce": "on", "sources": "mic"},
    )
    assert made.status_code == 303 and made.headers["location"] == "/dashboard/roles"
    [role] = (await admin.get("/v1/roles", headers=_auth(boot))).json()
    assert role["name"] == "panelist"
    assert role["grant"]["sources"] == ["mic"] and role["grant"]["can_send_data"] is False
    listed = await admin.get("/dashboard/roles")
    assert "<code>panelist</code>" in listed.text and "may publish: microphone" in listed.text
    # the playground offers it, and a token with it gets its grant
    assert "panelist" in (await admin.get("/dashboard/playground")).text
    await mint(admin, boot.admin_token, identity="p", room="r", role="panelist")
    gone = await post(admin, "/dashboard/roles/panelist/delete")
    assert gone.status_code == 303
    assert (await admin.get("/v1/roles", headers=_auth(boot))).json() == []


async def test_a_bad_role_is_refused_with_a_reason(admin: httpx.AsyncClient) -> None:
    preset = await post(admin, "/dashboard/roles", {"name": "host", "can_consume": "on"})
    assert preset.status_code == 400 and "preset role" in preset.text
    long = await post(admin, "/dashboard/roles", {"name": "x" * 21, "can_consume": "on"})
    assert long.status_code == 400 and "1 to 20 characters" in long.text
    assert 'value="xxxxxxxxxxxxxxxxxxxxx"' in long.text  # the form keeps what was typed


async def test_roles_need_the_roles_capability(admin: httpx.AsyncClient, boot: Bootstrap) -> None:
    limited = await server_token(admin, boot.admin_token, "rooms:read")
    other = httpx.AsyncClient(transport=admin._transport, base_url=str(admin.base_url))
    async with other:
        assert (await sign_in(other, limited)).status_code == 303
        page = await other.get("/dashboard/roles")
        assert page.status_code == 403 and "roles" in page.text
        refused = await post(other, "/dashboard/roles", {"name": "x", "can_consume": "on"})
        assert refused.status_code == 403
    assert (await admin.get("/v1/roles", headers=_auth(boot))).json() == []


async def test_a_room_page_bans_and_lifts(admin: httpx.AsyncClient, boot: Bootstrap) -> None:
    made = await admin.post("/v1/rooms", json={"customRoomId": "hall"}, headers=_auth(boot))
    assert made.status_code in (200, 201)
    page = await admin.get("/dashboard/rooms/hall")
    assert "Nobody is banned" in page.text
    banned = await post(
        admin, "/dashboard/rooms/hall/bans", {"identity": "troll", "reason": "spam"}
    )
    assert banned.status_code == 303, banned.text
    assert banned.headers["location"] == "/dashboard/rooms/hall#bans-title"
    [ban] = (await admin.get("/v1/rooms/hall/bans", headers=_auth(boot))).json()
    assert ban["identity"] == "troll" and ban["reason"] == "spam"
    refused = await admin.post(
        "/v1/tokens", json={"identity": "troll", "room": "hall"}, headers=_auth(boot)
    )
    assert refused.status_code == 403
    shown = await admin.get("/dashboard/rooms/hall")
    assert "<code>troll</code>" in shown.text and "Lift the ban of troll" in shown.text
    lifted = await post(admin, "/dashboard/rooms/hall/bans/troll/lift", {"lift_revocations": "on"})
    assert lifted.status_code == 303
    assert (await admin.get("/v1/rooms/hall/bans", headers=_auth(boot))).json() == []
    again = await post(admin, "/dashboard/rooms/hall/bans/troll/lift")
    assert again.status_code == 404 and "not banned" in again.text


async def test_bans_need_moderation_of_the_room(admin: httpx.AsyncClient, boot: Bootstrap) -> None:
    await admin.post("/v1/rooms", json={"customRoomId": "hall"}, headers=_auth(boot))
    limited = await server_token(admin, boot.admin_token, "rooms:read")
    other = httpx.AsyncClient(transport=admin._transport, base_url=str(admin.base_url))
    async with other:
        assert (await sign_in(other, limited)).status_code == 303
        page = await other.get("/dashboard/rooms/hall")
        assert page.status_code == 200 and "Bans" not in page.text
        refused = await post(other, "/dashboard/rooms/hall/bans", {"identity": "x"})
        assert refused.status_code == 403
    assert (await admin.get("/v1/rooms/hall/bans", headers=_auth(boot))).json() == []
