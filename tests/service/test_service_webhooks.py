"""Webhooks through the service: endpoints, events from every source, delivery to a real
receiver process (verified there with standardwebhooks), retries on an injected clock, dead
letters, redelivery, rotation, SSRF, and receivers that misbehave."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import http.server
import ipaddress
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from admission_support import native
from service_support import Clock, caller_of

from roomkey.errors import (
    ForbiddenError,
    InvalidClaimValueError,
    WebhookSignatureError,
    WebhookTimestampError,
    WebhookUrlRefusedError,
)
from roomkey.service import RoomkeyService, TokenRequest
from roomkey.service.webhooks import EndpointChange
from roomkey.webhooks import verify
from webhook_support import Receiver, await_for

FAST = {
    "webhook_poll_s": 0.02,
    "webhook_backoff_s": 2.0,
    "webhook_timeout_s": 2.0,
    "webhook_lease_s": 5.0,
    "webhook_allow_private": True,
}


@pytest.fixture
def clock() -> Clock:
    """Moved by hand, from the real time: the receiver checks timestamps on its own clock."""
    return Clock(float(int(time.time())))


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def node(
    open_node: Callable[..., Any], request: pytest.FixtureRequest
) -> AsyncIterator[RoomkeyService]:
    overrides = {**FAST, **getattr(request, "param", {})}
    yield await open_node(**overrides)


async def _endpoint(
    node: RoomkeyService, receiver: Receiver, path: str, **kw: Any
) -> tuple[str, str]:
    url, answer = receiver.url(path), kw.pop("answer", {})
    record, secret = await node.webhooks.create(
        caller_of(node).project_id, url, allow_private=True, **kw
    )
    receiver.configure(path, secret=secret, **answer)
    return record.id, secret


async def _failure_recorded(
    node: RoomkeyService, project: str, endpoint_id: str, attempts: int = 1
) -> None:
    """Until the node has recorded ``attempts`` failed attempts of a delivery (a receiver logs
    the request before the node has its answer: a clock moved earlier would also move that
    attempt's retry)."""
    deadline = time.monotonic() + 15.0
    while True:
        page, _ = await node.webhooks.deliveries(project, endpoint_id)
        if any(d.attempts >= attempts and (d.last_status or 0) >= 500 for d in page):
            return
        assert time.monotonic() < deadline, "no failed attempt recorded within 15 s"
        await asyncio.sleep(0.01)


def _delivered(receiver: Receiver, path: str, n: int) -> Callable[[], list[dict[str, Any]]]:
    def check() -> list[dict[str, Any]]:
        log = [e for e in receiver.log(path) if e["status"] < 300]
        return receiver.log(path) if len(log) >= n else []

    return check


async def test_a_room_created_reaches_the_receiver_signed(
    node: RoomkeyService, receiver: Receiver
) -> None:
    project = caller_of(node).project_id
    endpoint_id, _secret = await _endpoint(node, receiver, "/room-created")
    room, _ = await node.rooms.create(project, custom_id="standup")
    (entry,) = await await_for(_delivered(receiver, "/room-created", 1))
    assert entry["verified"], entry["error"]
    body = entry["body"]
    assert (body["type"], body["project"]) == ("room.created", project)
    assert body["data"]["room_id"] == room.id and body["data"]["custom_room_id"] == "standup"
    assert entry["webhook_id"] == body["id"]
    page, _ = await node.webhooks.deliveries(project, endpoint_id)
    assert [(d.status, d.attempts, d.last_status) for d in page] == [("delivered", 1, 204)]


async def test_every_stored_change_reports_its_event(
    node: RoomkeyService, receiver: Receiver
) -> None:
    project = caller_of(node).project_id
    await _endpoint(node, receiver, "/changes")
    room, _ = await node.rooms.create(project)
    await node.rooms.deactivate(project, room.id)
    key, _ = await node.keys.create_api_key(project, "second")
    rotated, _ = await node.keys.rotate(project, key.kid, overlap_s=60)
    await node.keys.disable(project, rotated.kid)
    rule = await node.revocations.revoke(project, identity="mallory", reason="spam")
    await node.revocations.lift(project, rule.id)
    await node.bans.ban(project, room.id, "eve", reason="trolling")
    # the ban revokes eve's tokens for the room: one revocation per name of the room
    log = await await_for(_delivered(receiver, "/changes", 9))
    assert all(e["verified"] for e in log)
    assert [e["body"]["type"] for e in log] == [
        "room.created",
        "room.deactivated",
        "key.created",
        "key.rotated",
        "key.disabled",
        "revocation.created",
        "revocation.lifted",
        "participant.banned",
        "revocation.created",
    ]
    assert log[3]["body"]["data"]["rotated_from"] == key.kid
    assert "secret" not in str(log[2]["body"]["data"]).lower()


async def test_admission_events_come_from_the_admission_service(
    node: RoomkeyService, receiver: Receiver, clock: Clock
) -> None:
    boot = node.bootstrap
    assert boot is not None
    await _endpoint(node, receiver, "/admission")
    host = await node.admission.join(native(boot, clock.now, "hall", "host", "host"), "hall")
    guest = native(boot, clock.now, "hall", "ann", "guest", join="ask")
    knock = await node.admission.join(guest, "hall")
    actor = node.admission.actor(None, host.session_token, "hall")
    await node.admission.lobby.admit(actor, knock.session.id)
    await node.admission.moderation.remove(actor, "ann")
    log = await await_for(_delivered(receiver, "/admission", 7))
    kinds = [(e["body"]["type"], _who(e["body"]["data"])) for e in log]
    assert kinds == [
        ("room.created", None),  # created on first use by the host's join
        ("participant.joined", "host"),
        ("lobby.knock", "ann"),
        ("participant.joined", "ann"),
        ("lobby.admitted", "ann"),
        ("participant.removed", None),  # told to the session itself: reason and by
        ("participant.left", "ann"),
    ]
    assert log[5]["body"]["data"]["reason"] == "removed"
    assert all(e["body"]["data"].get("room", "hall") == "hall" for e in log[1:])
    assert all("participant_token" not in str(e["body"]) for e in log)


def _who(data: dict[str, Any]) -> str | None:
    return data.get("identity") or data.get("participant", {}).get("identity")


@pytest.mark.parametrize("node", [{"webhook_max_attempts": 3}], indirect=True)
async def test_a_failing_receiver_gets_events_in_order_once_it_recovers(
    node: RoomkeyService, receiver: Receiver, clock: Clock
) -> None:
    project = caller_of(node).project_id
    endpoint_id, _ = await _endpoint(node, receiver, "/flaky", answer={"fail_first": 2})
    for name in ("one", "two", "three"):
        await node.rooms.create(project, custom_id=name)
    await await_for(lambda: len(receiver.log("/flaky")) >= 1)
    await _failure_recorded(node, project, endpoint_id)
    page, _ = await node.webhooks.deliveries(project, endpoint_id)
    first = next(d for d in page if d.attempts == 1)
    assert first.status == "pending" and first.last_status == 500
    assert 1.0 <= first.next_attempt_at - clock.now <= 2.0  # backoff 2 s, jitter in [0.5, 1)
    assert len(receiver.log("/flaky")) == 1  # the endpoint's next events wait behind it
    for attempt in (2, 3):
        clock.advance(4.0)
        node.webhooks.wake()
        seen = len(receiver.log("/flaky"))
        await await_for(lambda seen=seen: len(receiver.log("/flaky")) > seen)
        if attempt == 2:  # failed again: recorded before the clock moves on
            await _failure_recorded(node, project, endpoint_id, attempts=2)
    log = await await_for(_delivered(receiver, "/flaky", 3))
    names = [e["body"]["data"]["custom_room_id"] for e in log]
    assert names == ["one", "one", "one", "two", "three"]
    assert [e["status"] for e in log] == [500, 500, 204, 204, 204]
    assert len({e["webhook_id"] for e in log[:3]}) == 1  # a retry keeps its webhook-id


@pytest.mark.parametrize("node", [{"webhook_max_attempts": 2}], indirect=True)
async def test_a_dead_letter_lets_the_queue_go_on_and_can_be_redelivered(
    node: RoomkeyService, receiver: Receiver, clock: Clock
) -> None:
    project = caller_of(node).project_id
    endpoint_id, _secret = await _endpoint(node, receiver, "/dead", answer={"fail_first": 2})
    await node.rooms.create(project, custom_id="lost")
    await node.rooms.create(project, custom_id="after")
    await await_for(lambda: len(receiver.log("/dead")) >= 1)
    await _failure_recorded(node, project, endpoint_id)
    clock.advance(4.0)
    node.webhooks.wake()
    await await_for(_delivered(receiver, "/dead", 1))
    page, _ = await node.webhooks.deliveries(project, endpoint_id, status="dead")
    (dead,) = page
    assert (dead.attempts, dead.last_status) == (2, 500)
    assert "500" in (dead.last_error or "")
    again = await node.webhooks.redeliver(project, endpoint_id, dead.id)
    assert again.event_id == dead.event_id and again.status == "pending"
    log = await await_for(_delivered(receiver, "/dead", 2))
    names = [e["body"]["data"]["custom_room_id"] for e in log]
    assert names == ["lost", "lost", "after", "lost"]


async def test_rotation_signs_with_both_secrets_during_the_overlap(
    node: RoomkeyService, receiver: Receiver, clock: Clock
) -> None:
    project = caller_of(node).project_id
    endpoint_id, old = await _endpoint(node, receiver, "/rotating")
    _, new = await node.webhooks.rotate(project, endpoint_id, overlap_s=60)
    assert new != old
    await node.rooms.create(project, custom_id="r1")
    (entry,) = await await_for(_delivered(receiver, "/rotating", 1))
    assert entry["verified"]  # the receiver still holds the old secret
    assert len(entry["headers"]["webhook-signature"].split(" ")) == 2
    receiver.configure("/rotating", secret=new)
    clock.advance(61)
    await node.rooms.create(project, custom_id="r2")
    log = await await_for(_delivered(receiver, "/rotating", 1))
    assert log[0]["verified"] and len(log[0]["headers"]["webhook-signature"].split(" ")) == 1


async def test_token_issued_is_opt_in(node: RoomkeyService, receiver: Receiver) -> None:
    caller = caller_of(node)
    await _endpoint(node, receiver, "/tokens", event_types=["token.issued"])
    await _endpoint(node, receiver, "/everything-else", event_types=["*"])
    await node.webhooks.refresh()
    minted = await node.tokens.issue(caller, TokenRequest(identity="ann", room="a"), "/v1/tokens")
    (entry,) = await await_for(_delivered(receiver, "/tokens", 1))
    assert entry["body"]["data"]["jti"] == minted.claims.jti
    assert entry["body"]["data"]["identity"] == "ann"
    await await_for(_delivered(receiver, "/everything-else", 1))  # the room created on use
    assert [e["body"]["type"] for e in receiver.log("/everything-else")] == ["room.created"]


async def test_endpoint_rules(node: RoomkeyService, open_node: Callable[..., Any]) -> None:
    project = caller_of(node).project_id
    webhooks = node.webhooks
    with pytest.raises(WebhookUrlRefusedError) as refused:
        await webhooks.create(project, "http://127.0.0.1:9/hook")
    assert refused.value.details["address"] == "127.0.0.1"
    for url in ("ftp://example.com/", "http://user:pw@example.com/", "http:///nohost"):
        with pytest.raises(WebhookUrlRefusedError):
            await webhooks.create(project, url)
    with pytest.raises(InvalidClaimValueError, match=r"room\.made"):
        await webhooks.create(
            project, "http://127.0.0.1:9/", allow_private=True, event_types=["room.made"]
        )
    with pytest.raises(InvalidClaimValueError, match="LiveKit"):
        await webhooks.create(
            project,
            "http://127.0.0.1:9/",
            allow_private=True,
            format="livekit",
            event_types=["lobby.knock"],
        )
    record, secret = await webhooks.create(
        project, "http://127.0.0.1:9/", allow_private=True, format="livekit"
    )
    assert record.event_types == [
        "participant.joined",
        "participant.left",
        "room.created",
        "room.deactivated",
    ]
    assert record.livekit_key == node.bootstrap.api_key  # type: ignore[union-attr]
    assert secret.startswith("whsec_") and secret.encode() not in record.secret_ciphertext
    default, _ = await webhooks.create(project, "http://127.0.0.1:9/", allow_private=True)
    assert "token.issued" not in default.event_types and "lobby.knock" in default.event_types
    strict = await open_node(webhook_allow_private=False)
    with pytest.raises(ForbiddenError, match="ROOMKEY_WEBHOOK_ALLOW_PRIVATE"):
        await strict.webhooks.create(project, "http://127.0.0.1:9/", allow_private=True)
    with pytest.raises(WebhookUrlRefusedError):
        await webhooks.update(project, default.id, EndpointChange(allow_private=False))


async def test_the_address_is_checked_again_before_each_attempt(
    node: RoomkeyService, receiver: Receiver
) -> None:
    project = caller_of(node).project_id
    endpoint_id, _ = await _endpoint(node, receiver, "/rebinding")
    # as if the name resolved to a public address when the endpoint was made, and to a
    # loopback one now: the row says private addresses are not allowed
    endpoint = await node.webhooks.get(project, endpoint_id)
    await node.ctx.store.update_webhook(dataclasses.replace(endpoint, allow_private=False))
    await node.rooms.create(project, custom_id="x")

    async def attempted() -> Any:
        page, _ = await node.webhooks.deliveries(project, endpoint_id)
        return [d for d in page if d.attempts >= 1]

    (failed,) = await _poll(attempted)
    assert "127.0.0.1" in (failed.last_error or "") and failed.status == "pending"
    assert receiver.log("/rebinding") == []


async def _poll(check: Callable[[], Awaitable[Any]]) -> Any:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError("not true within 15 s")


@pytest.mark.parametrize(
    "node", [{"webhook_timeout_s": 0.5, "webhook_lease_s": 5.0}], indirect=True
)
async def test_bad_receivers_stall_nobody_else(node: RoomkeyService, receiver: Receiver) -> None:
    project = caller_of(node).project_id
    slow, _ = await _endpoint(node, receiver, "/slow", answer={"delay_s": 3})
    huge, _ = await _endpoint(node, receiver, "/huge", answer={"huge": 50_000_000})
    moved, _ = await _endpoint(node, receiver, "/redirect", answer={"redirect": True})
    await _endpoint(node, receiver, "/fine")
    for n in range(5):
        await node.rooms.create(project, custom_id=f"busy-{n}")
    await await_for(_delivered(receiver, "/fine", 5), timeout_s=10)

    async def outcome(endpoint_id: str) -> Any:
        page, _ = await node.webhooks.deliveries(project, endpoint_id)
        return [d for d in page if d.attempts >= 1]

    slow_first, *_ = await _poll(lambda: outcome(slow))
    assert "no answer within 0.5 s" in (slow_first.last_error or "")
    huge_done = await _poll(lambda: outcome(huge))
    assert huge_done[0].status == "delivered"  # 200, its 50 MB answer read up to the cap only
    (redirected,) = await _poll(lambda: outcome(moved))
    assert redirected.last_status == 307 and "not followed" in (redirected.last_error or "")


async def test_verify_refuses_a_replay_outside_the_window(
    node: RoomkeyService, receiver: Receiver
) -> None:
    project = caller_of(node).project_id
    _, secret = await _endpoint(node, receiver, "/replay")
    await node.rooms.create(project, custom_id="replayed")
    (entry,) = await await_for(_delivered(receiver, "/replay", 1))
    assert entry["verified"]  # standardwebhooks accepted it, fresh
    raw, headers = entry["raw"], entry["headers"]
    sent_at = int(headers["webhook-timestamp"])
    assert verify(raw, headers, secret, now=sent_at + 299)["id"] == entry["webhook_id"]
    with pytest.raises(WebhookTimestampError) as late:
        verify(raw, headers, secret, now=sent_at + 301)
    assert late.value.details == {"age_s": 301, "tolerance_s": 300}
    with pytest.raises(WebhookSignatureError):
        verify(raw.replace("replayed", "tampered"), headers, secret, now=sent_at)


def _self_signed(tmp_path: Any) -> ssl.SSLContext:
    """A server TLS context with a certificate for 127.0.0.1 that no authority signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    pem = tmp_path / "cert.pem"
    pem.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    return context


class _Answer204(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


async def test_a_receiver_whose_certificate_nobody_signed_is_refused(
    node: RoomkeyService, receiver: Receiver, tmp_path: Any
) -> None:
    """Wrong TLS: the attempt fails on the certificate (nothing is sent in clear or unchecked),
    it is retried later, and the other endpoints are served meanwhile."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer204)
    server.socket = _self_signed(tmp_path).wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        project = caller_of(node).project_id
        url = f"https://127.0.0.1:{server.server_address[1]}/hook"
        bad, _ = await node.webhooks.create(project, url, allow_private=True)
        await _endpoint(node, receiver, "/fine-tls")
        await node.rooms.create(project, custom_id="tls-room")
        await await_for(_delivered(receiver, "/fine-tls", 1), timeout_s=10)

        async def tried() -> Any:
            page, _ = await node.webhooks.deliveries(project, bad.id)
            return [d for d in page if d.attempts >= 1]

        (attempt,) = await _poll(tried)
        assert attempt.status == "pending" and attempt.last_status is None
        assert "CERTIFICATE_VERIFY_FAILED" in (attempt.last_error or ""), attempt.last_error
    finally:
        server.shutdown()
        server.server_close()
