"""Admission metrics on /metrics: joins by outcome, lobby waits, live sessions, events."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from roomkey.minting import AccessToken
from roomkey.service import Bootstrap


def _token(boot: Bootstrap, identity: str, **permissions: object) -> str:
    builder = AccessToken(boot.api_key, boot.api_secret).with_identity(identity)
    return builder.with_room("standup").with_permissions(**permissions).to_jwt()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_joins_waits_sessions_and_events_are_counted(
    client: httpx.AsyncClient, boot: Bootstrap
) -> None:
    host = await client.post(
        "/v1/rooms/standup/join",
        headers={"Authorization": f"Bearer {_token(boot, 'h', admin=True)}"},
    )
    assert host.status_code == 200, host.text
    guest = await client.post(
        "/v1/rooms/standup/join",
        headers={"Authorization": f"Bearer {_token(boot, 'g', join='ask')}"},
    )
    assert guest.status_code == 202, guest.text
    refused = await client.post("/v1/rooms/standup/join", headers={"Authorization": "Bearer x"})
    assert refused.status_code == 401
    admitted = await client.post(
        f"/v1/rooms/standup/lobby/{guest.json()['session_id']}/admit",
        json={},
        headers={"Authorization": f"Bearer {host.json()['session_token']}"},
    )
    assert admitted.status_code == 200, admitted.text
    got = _samples((await client.get("/metrics")).text)
    joins = "roomkey_admission_joins_total"
    assert got[(joins, (("outcome", "admitted"),))] == 1
    assert got[(joins, (("outcome", "waiting"),))] == 1
    assert got[(joins, (("outcome", "unauthorized"),))] == 1
    assert got[("roomkey_lobby_wait_seconds_count", (("decision", "admitted"),))] == 1
    assert got[("roomkey_admission_sessions", ())] == 2
    assert got[("roomkey_admission_waiting", ())] == 0
    assert got[("roomkey_admission_events_published_total", ())] >= 3  # joined, knock, admitted
    assert ("roomkey_admission_sockets_dropped_total", ()) in got
