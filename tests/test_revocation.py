"""Revocation rules: what each covers, what it leaves alone, lifting and pruning."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roomkey.claims import Claims
from roomkey.grants import Grant
from roomkey.revocation import (
    InMemoryRevocations,
    Revocation,
    RevocationChecker,
    pack_jti,
    packed_age,
    unpack_jti,
)

NOW = 1_795_000_000
KID = "APIkey1"


def _claims(**changes: Any) -> Claims:
    base = Claims(
        api_key=KID,
        identity="alice",
        room="standup",
        grant=Grant(),
        issued_at=NOW,
        not_before=NOW,
        expires_at=NOW + 900,
        jti="jti-1",
    )
    return base.replace(**changes)


@pytest.fixture
def revocations() -> InMemoryRevocations:
    return InMemoryRevocations()


def test_empty_store_revokes_nothing(revocations: InMemoryRevocations) -> None:
    checker: RevocationChecker = revocations
    assert checker(_claims(), KID) is None
    assert len(revocations) == 0 and revocations.rules() == []


def test_jti_rule_matches_only_that_token(revocations: InMemoryRevocations) -> None:
    rule = revocations.revoke_jti("jti-1", now=NOW, reason="leaked")
    assert revocations(_claims(), KID) == rule
    assert revocations(_claims(jti="jti-2"), KID) is None
    assert revocations(_claims(jti=None), KID) is None
    # a jti rule covers the token whenever it was issued
    assert revocations(_claims(issued_at=NOW + 10**6), KID) == rule
    assert rule.reason == "leaked" and rule.describe() == "jti 'jti-1'"


@pytest.mark.parametrize("kind", ["identity", "identity-in-room", "room", "key"])
def test_rules_cover_tokens_issued_at_or_before_them(
    revocations: InMemoryRevocations, kind: str
) -> None:
    at = NOW + 100
    if kind == "identity":
        rule = revocations.revoke_identity("alice", now=at)
    elif kind == "identity-in-room":
        rule = revocations.revoke_identity("alice", room="standup", now=at)
    elif kind == "room":
        rule = revocations.revoke_room("standup", now=at)
    else:
        rule = revocations.revoke_key(KID, now=at)
    assert revocations(_claims(issued_at=NOW), KID) == rule  # before
    assert revocations(_claims(issued_at=at), KID) == rule  # at the same second
    assert revocations(_claims(issued_at=at + 1), KID) is None  # a fresh token afterwards


def test_without_iat_the_rules_use_nbf_then_fail_closed(revocations: InMemoryRevocations) -> None:
    rule = revocations.revoke_room("standup", now=NOW)
    assert revocations(_claims(issued_at=None, not_before=NOW + 1), KID) is None
    assert revocations(_claims(issued_at=None, not_before=NOW), KID) == rule
    assert revocations(_claims(issued_at=None, not_before=None), KID) == rule


def test_rules_leave_other_identities_rooms_and_keys_alone(
    revocations: InMemoryRevocations,
) -> None:
    revocations.revoke_identity("bob", now=NOW)
    revocations.revoke_identity("alice", room="boardroom", now=NOW)
    revocations.revoke_room("boardroom", now=NOW)
    revocations.revoke_key("APIkey2", now=NOW)
    revocations.revoke_jti("other", now=NOW)
    assert revocations(_claims(), KID) is None
    assert revocations(_claims(identity="Alice", room="Standup"), KID) is None


def test_identity_rule_without_room_covers_every_room(revocations: InMemoryRevocations) -> None:
    rule = revocations.revoke_identity("alice", now=NOW)
    for room in ("standup", "boardroom", None):
        assert revocations(_claims(room=room), KID) == rule
    assert rule.describe() == "identity 'alice'"


def test_identity_rule_in_a_room_covers_only_that_room(revocations: InMemoryRevocations) -> None:
    rule = revocations.revoke_identity("alice", room="standup", now=NOW)
    assert revocations(_claims(), KID) == rule
    assert revocations(_claims(room="boardroom"), KID) is None
    assert revocations(_claims(room=None), KID) is None
    assert rule.describe() == "identity 'alice' in room 'standup'"


def test_api_tokens_without_identity_or_room(revocations: InMemoryRevocations) -> None:
    revocations.revoke_identity("alice", now=NOW)
    revocations.revoke_room("standup", now=NOW)
    assert revocations(_claims(identity=None, room=None), KID) is None
    rule = revocations.revoke_key(KID, now=NOW)
    assert revocations(_claims(identity=None, room=None), KID) == rule


def test_issued_before_is_strict_and_keeps_the_latest_cut(
    revocations: InMemoryRevocations,
) -> None:
    first = revocations.revoke_issued_before(NOW, now=NOW)
    assert revocations(_claims(issued_at=NOW - 1), KID) == first
    assert revocations(_claims(issued_at=NOW), KID) is None  # "before" is strict
    later = revocations.revoke_issued_before(NOW + 10, now=NOW + 10)
    assert revocations(_claims(issued_at=NOW + 5), KID) == later
    revocations.revoke_issued_before(NOW - 100, now=NOW + 20)  # an earlier cut changes nothing
    assert revocations(_claims(issued_at=NOW + 5), KID) == later
    assert len(revocations) == 1
    assert revocations(_claims(issued_at=None, not_before=None), KID) == later
    assert later.describe() == "every token issued before 2026-11-18T11:06:50Z"


def test_a_newer_rule_for_the_same_target_replaces_the_older(
    revocations: InMemoryRevocations,
) -> None:
    revocations.revoke_room("standup", now=NOW)
    newer = revocations.revoke_room("standup", now=NOW + 500)
    assert len(revocations) == 1
    assert revocations(_claims(issued_at=NOW + 400), KID) == newer


def test_lift_removes_only_that_rule(revocations: InMemoryRevocations) -> None:
    rules = [
        revocations.revoke_jti("jti-1", now=NOW),
        revocations.revoke_identity("alice", now=NOW),
        revocations.revoke_identity("alice", room="standup", now=NOW),
        revocations.revoke_room("standup", now=NOW),
        revocations.revoke_key(KID, now=NOW),
        revocations.revoke_issued_before(NOW + 1, now=NOW),
    ]
    assert len(revocations) == 6
    for n, rule in enumerate(rules, 1):
        revocations.lift(rule)
        revocations.lift(rule)  # lifting twice is harmless
        assert len(revocations) == 6 - n
    assert revocations(_claims(), KID) is None


def test_lift_ignores_a_stale_copy_of_a_replaced_rule(revocations: InMemoryRevocations) -> None:
    old = revocations.revoke_room("standup", now=NOW)
    new = revocations.revoke_room("standup", now=NOW + 5)
    revocations.lift(old)
    assert revocations.rules() == [new]


def test_prune_drops_only_rules_past_their_expiry(revocations: InMemoryRevocations) -> None:
    revocations.revoke_jti("a", expires_at=NOW + 10, now=NOW)
    revocations.revoke_identity("alice", expires_at=NOW + 20, now=NOW)
    revocations.revoke_room("r", expires_at=NOW + 30, now=NOW)
    revocations.revoke_key("k", now=NOW)  # no expiry: kept for ever
    revocations.revoke_issued_before(NOW, expires_at=NOW + 5, now=NOW)
    assert revocations.prune(now=NOW) == 0
    assert revocations.prune(now=NOW + 10) == 2  # expires_at is inclusive
    assert revocations.prune(now=NOW + 10) == 0
    assert revocations.prune(now=NOW + 10**9) == 2
    assert [r.kind for r in revocations.rules()] == ["key"]


def test_unknown_rule_kind_is_refused(revocations: InMemoryRevocations) -> None:
    with pytest.raises(ValueError, match="unknown revocation kind"):
        revocations.add(Revocation("everything", "x", NOW))


def test_correct_with_many_rules(revocations: InMemoryRevocations) -> None:
    """Lookups are by key, so correctness does not depend on how many rules are held."""
    for n in range(20_000):
        revocations.revoke_jti(f"revoked-{n}", now=NOW)
        revocations.revoke_identity(f"user-{n}", now=NOW)
        revocations.revoke_room(f"room-{n}", now=NOW)
    assert len(revocations) == 60_000
    assert revocations(_claims(), KID) is None
    assert revocations(_claims(jti="revoked-19999"), KID) is not None
    assert revocations(_claims(identity="user-123"), KID) is not None
    assert revocations(_claims(room="room-7"), KID) is not None
    assert revocations(_claims(identity="user-123", issued_at=NOW + 1), KID) is None


def test_revocation_rules_are_frozen() -> None:
    rule = Revocation("jti", "x", NOW)
    with pytest.raises(AttributeError):
        rule.value = "y"  # type: ignore[misc]


# ---- the jti set kept beside the jti table ---------------------------------------------------

_JTIS = st.sampled_from(["j1", "j2", "j3", "j4"])
_STEPS = st.lists(
    st.tuples(st.sampled_from(["revoke", "lift", "lift-stale", "prune"]), _JTIS, st.integers(0, 3)),
    max_size=30,
)


@settings(max_examples=300)
@given(_STEPS)
def test_jti_answers_follow_the_rules_held_through_any_revoke_lift_prune(
    steps: list[tuple[str, str, int]],
) -> None:
    """Whatever sequence of revocations, lifts (current or stale rules) and prunes, a token is
    revoked by jti exactly when a jti rule for it is held, and the answer is that rule."""
    revocations = InMemoryRevocations()
    made: dict[str, Revocation] = {}
    for action, jti, tick in steps:
        if action == "revoke":
            made[jti] = revocations.revoke_jti(jti, now=NOW + tick, expires_at=NOW + 10 * tick)
        elif action == "lift" and jti in made:
            revocations.lift(made[jti])
        elif action == "lift-stale":
            revocations.lift(Revocation("jti", jti, NOW - 1))  # never the rule held
        elif action == "prune":
            revocations.prune(now=NOW + 10 * tick)
        held = {str(r.value): r for r in revocations.rules() if r.kind == "jti"}
        for candidate in ("j1", "j2", "j3", "j4"):
            assert revocations(_claims(jti=candidate), KID) is held.get(candidate)
    assert revocations(_claims(jti=None), KID) is None


# ---- bulk loading (a node's start) ------------------------------------------------------------


def test_a_packed_rule_round_trips_whatever_its_id_and_reason_hold() -> None:
    packed = pack_jti(NOW, NOW + 900, "rev,1", "leaked, twice,\nreally")
    rule = unpack_jti("jti-1", packed)
    assert rule == Revocation(
        "jti", "jti-1", float(NOW), None, float(NOW + 900), "leaked, twice,\nreally", "rev,1"
    )
    assert unpack_jti("j", pack_jti(NOW, NOW + 1, "r", "")).reason is None
    assert packed_age(packed) == (float(NOW), "rev,1")


def test_loaded_rules_match_like_added_ones() -> None:
    table = InMemoryRevocations()
    others = [
        ("identity", "mallory", NOW, "standup", NOW + 900, "", "i1"),
        ("issued_before", str(NOW - 10), NOW, None, NOW + 900, "rotation", "b1"),
    ]
    table.load(["jti-1"], [pack_jti(NOW, NOW + 900, "rev1", "leaked")], others)
    hit = table(_claims(), KID)
    assert hit is not None and (hit.id, hit.reason, hit.revoked_at) == ("rev1", "leaked", NOW)
    assert table(_claims(), KID) is hit  # built once, on the first match
    assert table(_claims(jti="other"), KID) is None
    assert table(_claims(jti="other", identity="mallory", issued_at=NOW - 1), KID) is not None
    assert table(_claims(jti="other", issued_at=NOW - 11), KID) is not None  # issued before
    assert len(table) == 3 and {r.id for r in table.rules()} == {"rev1", "i1", "b1"}


def test_loading_into_a_table_with_rules_adds_to_them() -> None:
    table = InMemoryRevocations()
    table.revoke_jti("kept", now=NOW)
    table.load(["jti-1"], [pack_jti(NOW, NOW + 900, "rev1", "")])
    assert table(_claims(jti="kept"), KID) is not None
    assert table(_claims(), KID) is not None and len(table) == 2


def test_loaded_rules_are_lifted_and_pruned_like_others() -> None:
    table = InMemoryRevocations()
    packed = {f"j{i}": pack_jti(NOW, NOW + 100 * (i + 1), f"r{i}", "") for i in range(3)}
    table.load(list(packed), list(packed.values()))
    table.lift(unpack_jti("j2", packed["j2"]))
    assert table(_claims(jti="j2"), KID) is None
    assert table.prune(now=NOW + 150) == 1  # j0
    assert table(_claims(jti="j0"), KID) is None and table(_claims(jti="j1"), KID) is not None
    assert table.prune(now=NOW + 160) == 0  # nothing due before j1's expiry (no scan)
    table.revoke_jti("soon", now=NOW, expires_at=NOW + 170)  # sooner than what was known
    assert table.prune(now=NOW + 180) == 1
    assert table.prune(now=NOW + 250) == 1 and len(table) == 0


def _columns(count: int) -> tuple[list[str], list[str]]:
    jtis = [f"j{i}" for i in range(count)]
    return jtis, [pack_jti(NOW, NOW + 900 + i, f"r{i}", "") for i in range(count)]


def test_loaded_columns_are_checked_exactly_before_and_while_they_are_filed() -> None:
    table = InMemoryRevocations()
    table.load(*_columns(10))
    for i in (0, 4, 9):  # nothing filed yet: found in the columns
        hit = table(_claims(jti=f"j{i}"), KID)
        assert hit is not None and hit.id == f"r{i}" and hit.expires_at == NOW + 900 + i
    assert table(_claims(jti="j10"), KID) is None and len(table) == 10
    assert not table.file_some(4) and not table.file_some(4)
    hit = table(_claims(jti="j9"), KID)  # in the part not filed yet
    assert hit is not None and hit.id == "r9"
    assert table(_claims(jti="j9"), KID) is hit  # built once, and kept by the filing
    assert table.file_some(4) and table.file_some(4)  # done, and done stays done
    assert table(_claims(jti="j9"), KID) is hit and len(table) == 10


def test_changes_made_while_columns_are_filed_are_never_undone_by_the_filing() -> None:
    table = InMemoryRevocations()
    jtis, rules = _columns(6)
    table.load(jtis, rules)
    table.file_some(2)  # j0 and j1 filed
    table.lift(unpack_jti("j1", rules[1]))  # filed, then lifted
    table.lift(unpack_jti("j4", rules[4]))  # lifted before its row is filed
    newer = table.revoke_jti("j5", now=NOW + 5, reason="again")  # replaced before filed
    table.revoke_jti("j9", now=NOW)  # new
    table.file_all()
    assert table(_claims(jti="j1"), KID) is None and table(_claims(jti="j4"), KID) is None
    assert table(_claims(jti="j5"), KID) is newer and table(_claims(jti="j9"), KID) is not None
    assert sorted(str(r.value) for r in table.rules()) == ["j0", "j2", "j3", "j5", "j9"]


def test_a_jti_with_two_loaded_rules_keeps_the_latest() -> None:
    table = InMemoryRevocations()
    old, new = pack_jti(NOW - 5, NOW + 900, "r1", "old"), pack_jti(NOW, NOW + 900, "r2", "new")
    table.load(["a", "a", "b"], [new, old, old])
    hit = table(_claims(jti="a"), KID)
    assert hit is not None and hit.id == "r2" and len(table) == 2
    with pytest.raises(ValueError, match="differ in length"):
        InMemoryRevocations().load(["a"], [])


def test_pruning_files_the_columns_first() -> None:
    table = InMemoryRevocations()
    table.load(*_columns(5))  # expiries NOW + 900 .. NOW + 904
    assert table.prune(now=NOW + 902) == 3  # j0, j1, j2 (expiry at or before the moment)
    assert sorted(str(r.value) for r in table.rules()) == ["j3", "j4"]
