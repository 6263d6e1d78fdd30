"""The admission service over a real service on SQLite: joins in every format, the lobby,
moderation rules, refresh, revocations and replaced sessions (time moved by hand)."""

from __future__ import annotations

import time

import pytest
from admission_support import huddle01, livekit, native, videosdk
from service_support import Clock

from roomkey.errors import (
    AlreadyDecidedError,
    BannedError,
    ForbiddenError,
    InvalidSessionError,
    ModerationRefusedError,
    NotInRoomError,
    RoomFullError,
    RoomLockedError,
)
from roomkey.grants import Source
from roomkey.service import Bootstrap, RoomkeyService
from roomkey.service.admission import Event, Session, SessionStatus, Subscription, accepts
from roomkey.service.admission.rules import Actor


@pytest.fixture
def boot(service: RoomkeyService, clock: Clock) -> Bootstrap:
    clock.now = time.time()  # livekit-api stamps its tokens with the machine's clock
    assert service.bootstrap is not None
    return service.bootstrap


def watch(service: RoomkeyService, session: Session) -> Subscription:
    policy = service.admission.admit_policy(session.project_id, session.room)
    return service.admission.bus.subscribe(
        session.project_id, session.room, accepts(session, policy)
    )


def drain(sub: Subscription) -> list[Event]:
    out = []
    while (event := sub.take()) is not None:
        out.append(event)
    return out


def kinds(sub: Subscription) -> list[str]:
    return [e.type.value for e in drain(sub)]


def actor(session: Session) -> Actor:
    return Actor(session.project_id, session.room, session=session)


async def test_a_videosdk_host_is_admitted_and_an_ask_join_guest_waits_until_admitted(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    admission = service.admission
    host = await admission.join(
        videosdk(boot, clock.now, "r1", "h", "allow_join", "allow_mod"), "r1"
    )
    assert host.status == "admitted" and host.session.grant.moderate
    assert host.session_token.startswith("rks1.")
    host_events = watch(service, host.session)
    guest = await admission.join(videosdk(boot, clock.now, "r1", "g", "ask_join"), "r1")
    assert guest.status == "waiting" and guest.position == 1
    guest_events = watch(service, guest.session)
    knock = drain(host_events)
    assert [e.type.value for e in knock] == ["lobby_knock"]
    assert knock[0].data["session_id"] == guest.session.id
    await admission.lobby.admit(actor(host.session), guest.session.id)
    assert guest.session.status is SessionStatus.ADMITTED
    got = drain(guest_events)
    assert [e.type.value for e in got] == ["participant_joined", "lobby_admitted"]
    with pytest.raises(AlreadyDecidedError):
        await admission.lobby.admit(actor(host.session), guest.session.id)
    with pytest.raises(AlreadyDecidedError):
        await admission.lobby.reject(actor(host.session), guest.session.id)
    names = [p["identity"] for p in admission.participants(actor(host.session))]
    assert names == ["h", "g"]


async def test_the_waiter_gets_its_platform_token_only_once_admitted(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    await service.projects.update_settings(boot.project_id, {"platform_token": "livekit"})
    host = await service.admission.join(native(boot, clock.now, "r1", "h", "host"), "r1")
    assert host.participant_token is not None and host.participant_token.dialect == "livekit"
    guest = await service.admission.join(native(boot, clock.now, "r1", "g", join="ask"), "r1")
    assert guest.participant_token is None
    events = watch(service, guest.session)
    await service.admission.lobby.admit(actor(host.session), guest.session.id)
    admitted = [e for e in drain(events) if e.type.value == "lobby_admitted"]
    token = admitted[0].data["participant_token"]
    verified = service.tokens.verify(token, room="r1")
    assert verified.valid and verified.verified is not None
    assert verified.verified.dialect == "livekit" and verified.verified.claims.identity == "g"
    host_events = watch(service, host.session)
    other = await service.admission.join(native(boot, clock.now, "r1", "o", join="ask"), "r1")
    await service.admission.lobby.admit(actor(host.session), other.session.id)
    seen = [e for e in drain(host_events) if e.type.value == "lobby_admitted"]
    assert seen and all("participant_token" not in e.data for e in seen)


async def test_a_rejected_knock_ends_and_the_decision_reaches_the_waiter(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    host = await service.admission.join(native(boot, clock.now, "r1", "h", "host"), "r1")
    guest = await service.admission.join(native(boot, clock.now, "r1", "g", join="ask"), "r1")
    events = watch(service, guest.session)
    await service.admission.lobby.reject(actor(host.session), guest.session.id, "not today")
    got = drain(events)
    assert [e.type.value for e in got] == ["lobby_rejected"]
    assert got[0].data["reason"] == "not today"
    with pytest.raises(InvalidSessionError):
        service.admission.authenticate_session(guest.session_token)
    with pytest.raises(AlreadyDecidedError):
        await service.admission.lobby.admit(actor(host.session), guest.session.id)


async def test_a_knock_expires_after_the_rooms_wait_and_a_waiter_may_cancel(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    await service.projects.update_settings(boot.project_id, {"knock_timeout_s": 60})
    host = await service.admission.join(native(boot, clock.now, "r1", "h", "host"), "r1")
    guest = await service.admission.join(native(boot, clock.now, "r1", "g", join="ask"), "r1")
    host_events = watch(service, host.session)
    clock.advance(59)
    assert len(service.admission.lobby.list(actor(host.session))) == 1
    clock.advance(1)
    service.admission.sweep()
    assert guest.session.status is SessionStatus.EXPIRED
    got = drain(host_events)
    assert [e.type.value for e in got] == ["lobby_cancelled"]
    assert got[0].data["reason"] == "expired"
    other = await service.admission.join(native(boot, clock.now, "r1", "o", join="ask"), "r1")
    await service.admission.lobby.cancel(other.session)
    assert other.session.status is SessionStatus.CANCELLED
    assert service.admission.lobby.list(actor(host.session)) == []
    with pytest.raises(AlreadyDecidedError):
        await service.admission.lobby.cancel(other.session)


async def test_only_those_the_admit_policy_names_may_decide(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    guest = await service.admission.join(native(boot, clock.now, "r1", "a"), "r1")
    knock = await service.admission.join(native(boot, clock.now, "r1", "k", join="ask"), "r1")
    assert len(service.admission.lobby.list(actor(guest.session))) == 1  # direct: the seed's rule
    await service.projects.update_settings(boot.project_id, {"admit_policy": "moderators"})
    with pytest.raises(ForbiddenError):
        await service.admission.lobby.admit(actor(guest.session), knock.session.id)
    host = await service.admission.join(native(boot, clock.now, "r1", "h", "host"), "r1")
    await service.admission.lobby.admit(actor(host.session), knock.session.id)


async def test_a_moderator_mutes_and_only_asks_to_unmute(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    host = await service.admission.join(videosdk(boot, clock.now, "r1", "h", "allow_mod"), "r1")
    guest = await service.admission.join(videosdk(boot, clock.now, "r1", "g"), "r1")
    events = watch(service, guest.session)
    await service.admission.moderation.mute(actor(host.session), "g", ["mic"])
    assert guest.session.muted == {Source.MIC}
    service.admission.moderation.request_unmute(actor(host.session), "g", ["mic"])
    assert guest.session.muted == {Source.MIC}  # never forced
    assert kinds(events) == ["muted", "unmute_requested"]
    with pytest.raises(ForbiddenError):
        await service.admission.moderation.mute(actor(guest.session), "h", ["mic"])


async def test_a_removed_and_banned_guest_cannot_rejoin_with_any_token(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    host = await service.admission.join(livekit(boot, "r1", "h", admin=True), "r1")
    old = livekit(boot, "r1", "g")
    guest = await service.admission.join(old, "r1")
    events = watch(service, guest.session)
    await service.admission.moderation.remove(actor(host.session), "g", ban=True)
    got = drain(events)
    assert got[0].type.value == "removed" and got[0].data["reason"] == "banned"
    with pytest.raises(BannedError):  # its token is revoked too, but the ban is the reason
        await service.admission.join(old, "r1")
    clock.advance(2)  # a fresh token, issued after the ban's revocation
    fresh = native(boot, clock.now, "r1", "g")
    assert service.tokens.verify(fresh, room="r1").valid
    with pytest.raises(BannedError):
        await service.admission.join(fresh, "r1")


async def test_huddle01_cohost_cannot_make_anyone_host_nor_act_on_the_host(
    service: RoomkeyService, boot: Bootstrap
) -> None:
    host = await service.admission.join(await huddle01(service, "r1", "h", "host"), "r1")
    cohost = await service.admission.join(await huddle01(service, "r1", "c", "coHost"), "r1")
    await service.admission.join(await huddle01(service, "r1", "g", "guest"), "r1")
    assert cohost.session.role == "coHost" and host.session.role == "host"
    with pytest.raises(ModerationRefusedError) as made:
        await service.admission.moderation.update(actor(cohost.session), "g", role="host")
    assert made.value.details["rule"] == "cohost_makes_host"
    with pytest.raises(ModerationRefusedError):
        await service.admission.moderation.remove(actor(cohost.session), "h")
    change = await service.admission.moderation.update(actor(cohost.session), "g", role="listener")
    assert not change.session.grant.can_produce
    assert change.token.dialect == "huddle01"


async def test_a_permission_change_gives_the_participant_its_token_and_the_room_its_new_form(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    """Regression: only the changed participant heard of a change; the room's view of it
    (role, grant) went stale until someone listed the participants."""
    host = await service.admission.join(native(boot, clock.now, "r1", "h", "host"), "r1")
    guest = await service.admission.join(native(boot, clock.now, "r1", "g"), "r1")
    other = await service.admission.join(native(boot, clock.now, "r1", "o"), "r1")
    to_guest, to_other = watch(service, guest.session), watch(service, other.session)
    await service.admission.moderation.update(actor(host.session), "g", role="listener")
    guest_events, other_events = drain(to_guest), drain(to_other)
    assert [e.type.value for e in guest_events] == ["permissions_updated", "participant_updated"]
    assert [e.type.value for e in other_events] == ["participant_updated"]
    seen = other_events[0].to_json()
    assert seen["participant"]["identity"] == "g" and seen["participant"]["role"] == "listener"
    assert "token" not in seen and "token" not in seen["participant"]
    assert "token" in guest_events[0].to_json()


async def test_nobody_grants_more_than_they_hold_nor_raises_itself(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    host = await service.admission.join(native(boot, clock.now, "r1", "h", "host"), "r1")
    await service.admission.join(native(boot, clock.now, "r1", "g"), "r1")
    change = await service.admission.moderation.update(
        actor(host.session), "g", permissions={"moderate": True}
    )
    assert change.session.grant.moderate and not change.session.grant.admin
    with pytest.raises(ModerationRefusedError) as beyond:  # the host is not hidden itself
        await service.admission.moderation.update(
            actor(host.session), "g", permissions={"hidden": True}
        )
    assert beyond.value.details["rule"] == "beyond_own_rights"
    with pytest.raises(ModerationRefusedError) as itself:
        await service.admission.moderation.update(
            actor(host.session), "h", permissions={"recorder": True}
        )
    assert itself.value.details["rule"] == "self_escalation"
    with pytest.raises(ForbiddenError):  # a moderator is no admin: it cannot change roles
        await service.admission.moderation.update(actor(change.session), "g", role="host")


async def test_refresh_gives_a_token_with_the_current_grant_after_the_join_token_expired(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    joined = await service.admission.join(native(boot, clock.now, "r1", "g"), "r1")
    clock.advance(3600)  # the join token (600 s) has long expired: the session lives on
    session = service.admission.authenticate_session(
        (await service.admission.refresh(joined.session)).session_token
    )
    assert session is joined.session and session.live
    again = await service.admission.refresh(session)
    assert service.tokens.verify(again.token.token, room="r1").valid


async def test_a_revocation_ends_every_matching_live_session(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    a = await service.admission.join(native(boot, clock.now, "r1", "a"), "r1")
    b = await service.admission.join(native(boot, clock.now, "r1", "b"), "r1")
    events = watch(service, a.session)
    await service.revocations.revoke(boot.project_id, identity="a")
    assert a.session.status is SessionStatus.REMOVED and a.session.reason == "revoked"
    assert b.session.live
    got = drain(events)
    assert got[0].type.value == "removed" and got[0].data["reason"] == "revoked"
    await service.revocations.revoke(boot.project_id, room="r1")
    assert not b.session.live


async def test_the_same_identity_joining_again_replaces_the_older_session(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    first = await service.admission.join(native(boot, clock.now, "r1", "g"), "r1")
    events = watch(service, first.session)
    second = await service.admission.join(native(boot, clock.now, "r1", "g"), "r1")
    assert first.session.status is SessionStatus.REPLACED and second.session.live
    got = drain(events)
    assert got[0].type.value == "replaced" and got[0].data["session_id"] == second.session.id
    assert [p["session_id"] for p in service.admission.participants(actor(second.session))] == [
        second.session.id
    ]


async def test_a_locked_room_holds_joiners_unless_they_may_admit(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    await service.rooms.create(boot.project_id, custom_id="r1")
    host = await service.admission.join(native(boot, clock.now, "r1", "h", "host"), "r1")
    await service.admission.moderation.lock(actor(host.session), True)
    guest = await service.admission.join(native(boot, clock.now, "r1", "g"), "r1")
    assert guest.status == "waiting"  # locked, the default policy holds all but moderators
    await service.projects.update_settings(boot.project_id, {"admit_policy": "admins"})
    moderator = native(boot, clock.now, "r1", "m", moderate=True)
    assert (await service.admission.join(moderator, "r1")).status == "waiting"
    cohost = await service.admission.join(native(boot, clock.now, "r1", "c", "coHost"), "r1")
    assert cohost.status == "admitted"
    await service.projects.update_settings(boot.project_id, {"locked_lobby": False})
    with pytest.raises(RoomLockedError):
        await service.admission.join(native(boot, clock.now, "r1", "x"), "r1")


async def test_a_full_room_refuses_the_next_participant(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    await service.rooms.create(boot.project_id, custom_id="r1", max_participants=1)
    await service.admission.join(native(boot, clock.now, "r1", "a"), "r1")
    with pytest.raises(RoomFullError):
        await service.admission.join(native(boot, clock.now, "r1", "b"), "r1")
    again = await service.admission.join(native(boot, clock.now, "r1", "a"), "r1")
    assert again.status == "admitted"  # the same identity replaces its session


async def test_a_hidden_participant_is_announced_to_moderators_only(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    host = await service.admission.join(native(boot, clock.now, "r1", "h", "host"), "r1")
    guest = await service.admission.join(native(boot, clock.now, "r1", "g"), "r1")
    host_events, guest_events = watch(service, host.session), watch(service, guest.session)
    await service.admission.join(native(boot, clock.now, "r1", "bot", "bot", hidden=True), "r1")
    assert kinds(host_events) == ["participant_joined"]
    assert kinds(guest_events) == []
    assert "bot" not in [
        p["identity"] for p in service.admission.participants(actor(guest.session))
    ]


async def test_a_session_ends_after_its_last_socket_closed_for_the_grace_period(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    joined = await service.admission.join(native(boot, clock.now, "r1", "g"), "r1")
    service.admission.attach(joined.session)
    service.admission.detach(joined.session)
    clock.advance(service.admission.grace_s - 1)
    service.admission.sweep()
    assert joined.session.live
    clock.advance(1)
    service.admission.sweep()
    assert joined.session.status is SessionStatus.LEFT


async def test_a_waiting_participant_cannot_act_and_nobody_acts_on_a_knock(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    host = await service.admission.join(native(boot, clock.now, "r1", "h", "host"), "r1")
    waiting = await service.admission.join(native(boot, clock.now, "r1", "g", join="ask"), "r1")
    with pytest.raises(ForbiddenError):
        service.admission.actor(None, waiting.session_token, "r1")
    with pytest.raises(NotInRoomError):
        await service.admission.moderation.mute(actor(host.session), "g", ["mic"])


async def test_admitters_hear_when_a_knock_ends_by_removal_or_revocation(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    """Regression: a knock removed or revoked vanished without a word to the admitters."""
    host = await service.admission.join(native(boot, clock.now, "r1", "h", "host"), "r1")
    a = await service.admission.join(native(boot, clock.now, "r1", "a", join="ask"), "r1")
    await service.admission.join(native(boot, clock.now, "r1", "b", join="ask"), "r1")
    events = watch(service, host.session)
    await service.admission.moderation.remove(actor(host.session), "a")
    await service.revocations.revoke(boot.project_id, identity="b")
    got = [(e.type.value, e.data["identity"], e.data["reason"]) for e in drain(events)]
    assert got == [("lobby_cancelled", "a", "removed"), ("lobby_cancelled", "b", "revoked")]
    assert a.session.status is SessionStatus.REMOVED
    assert service.admission.lobby.list(actor(host.session)) == []


async def test_a_room_may_override_the_projects_admission_settings(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    admission = {"platform_token": "livekit", "admit_policy": "admins", "knock_timeout_s": 10}
    await service.rooms.create(boot.project_id, custom_id="r1", metadata={"admission": admission})
    rules = service.admission.rules(boot.project_id, "r1")
    assert (rules.platform_token, rules.admit_policy, rules.knock_timeout_s) == (
        "livekit",
        "admins",
        10,
    )
    assert service.admission.rules(boot.project_id, "r2").platform_token is None
    joined = await service.admission.join(native(boot, clock.now, "r1", "g"), "r1")
    assert joined.participant_token is not None and joined.participant_token.dialect == "livekit"


async def test_a_snapshot_shows_what_the_session_may_see(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    host = await service.admission.join(native(boot, clock.now, "r1", "h", "host"), "r1")
    guest = await service.admission.join(native(boot, clock.now, "r1", "g", join="ask"), "r1")
    state = service.admission.snapshot(host.session)
    assert [k["session_id"] for k in state["lobby"]] == [guest.session.id]
    assert [p["identity"] for p in state["participants"]] == ["h"] and not state["locked"]
    waiting = service.admission.snapshot(guest.session)
    assert (
        waiting["status"] == "waiting" and waiting["participants"] == [] and "lobby" not in waiting
    )


async def test_an_expired_knock_cannot_be_admitted_even_before_the_sweep(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    host = await service.admission.join(native(boot, clock.now, "r1", "h", "host"), "r1")
    guest = await service.admission.join(native(boot, clock.now, "r1", "g", join="ask"), "r1")
    clock.advance(300)  # the default wait, five minutes; no sweep ran
    with pytest.raises(AlreadyDecidedError) as late:
        await service.admission.lobby.admit(actor(host.session), guest.session.id)
    assert late.value.details["status"] == "expired"


async def test_deactivating_a_room_tells_it_and_ends_its_sessions(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    a = await service.admission.join(native(boot, clock.now, "r1", "a"), "r1")
    other = await service.admission.join(native(boot, clock.now, "r2", "o"), "r2")
    events = watch(service, a.session)
    await service.rooms.deactivate(boot.project_id, "r1")
    got = [e.type.value for e in drain(events)]
    assert got[0] == "room_deactivated" and "removed" in got
    assert a.session.status is SessionStatus.REMOVED and a.session.reason == "room_deactivated"
    assert other.session.live  # another room is untouched
    with pytest.raises(Exception) as refused:
        await service.admission.join(native(boot, clock.now, "r1", "late"), "r1")
    assert getattr(refused.value, "code", None) == "room_inactive"


async def test_a_room_that_ejects_at_token_expiry_warns_then_ends_and_refresh_moves_it(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    keeps = await service.admission.join(native(boot, clock.now, "r1", "keeps"), "r1")
    await service.projects.update_settings(boot.project_id, {"eject_at_token_exp": True})
    a = await service.admission.join(native(boot, clock.now, "r1", "a"), "r1")
    b = await service.admission.join(native(boot, clock.now, "r1", "b"), "r1")
    events = watch(service, a.session)
    clock.advance(600 - 30)  # the join tokens live 600 s: 30 s left
    service.admission.sweep()
    warned = [e for e in drain(events) if e.type.value == "token_expiring"]
    assert len(warned) == 1 and 29 <= warned[0].data["seconds_left"] <= 30
    service.admission.sweep()
    assert not [e for e in drain(events) if e.type.value == "token_expiring"]  # warned once
    await service.admission.refresh(a.session)  # a fresh token moves a's deadline
    clock.advance(31)
    service.admission.sweep()
    assert a.session.live
    assert b.session.status is SessionStatus.REMOVED and b.session.reason == "token_expired"
    # the rule is the room's, applied at each sweep: a session joined before it was set too
    assert keeps.session.reason == "token_expired"


async def test_by_default_an_expired_token_never_ends_a_session(
    service: RoomkeyService, boot: Bootstrap, clock: Clock
) -> None:
    a = await service.admission.join(native(boot, clock.now, "r1", "a"), "r1")
    clock.advance(3600)
    service.admission.sweep()
    assert a.session.live
