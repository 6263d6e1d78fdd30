"""The canonical grant: invariants checked on construction, parsing of sources/scope/join."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from roomkey.errors import InvalidGrantError
from roomkey.grants import (
    ALL_SOURCES,
    PERMISSION_FIELDS,
    Grant,
    JoinMode,
    Scope,
    Source,
    parse_join,
    parse_scope,
    parse_sources,
)


def test_the_default_grant_is_a_plain_participant() -> None:
    grant = Grant()
    assert grant.can_consume and grant.can_produce and grant.sources == ALL_SOURCES
    assert grant.can_send_data and grant.can_recv_data and grant.can_update_metadata
    assert not (grant.admin or grant.moderate or grant.hidden or grant.recorder)
    assert (grant.join, grant.scope) == (JoinMode.DIRECT, {Scope.ROOM})


def test_admin_implies_moderate() -> None:
    assert Grant(admin=True).moderate is True
    assert Grant(admin=True, moderate=False).moderate is True


@pytest.mark.parametrize(
    ("fields", "message", "field"),
    [
        ({"can_produce": False}, "sources are named while can_produce is false", "sources"),
        ({"sources": frozenset()}, "no source is allowed", "sources"),
        ({"join": JoinMode.ASK, "moderate": True}, "contradicts admin/moderate", "join"),
        ({"join": "ask", "admin": True}, "contradicts admin/moderate", "join"),
        ({"scope": frozenset()}, "scope must name room, api or both", "scope"),
        ({"hidden": 1}, "hidden must be true or false", "hidden"),
        ({"admin": "false"}, "admin must be true or false", "admin"),
        ({"sources": ["cam", "webcam"]}, "unknown source 'webcam'", "sources"),
        ({"scope": ["room", "admin"]}, "unknown scope 'admin'", "scope"),
        ({"join": "lobby"}, "unknown join mode 'lobby'", "join"),
    ],
)
def test_contradictory_or_malformed_grants_are_refused(
    fields: dict[str, Any], message: str, field: str
) -> None:
    with pytest.raises(InvalidGrantError, match=message) as info:
        Grant(**fields)
    assert info.value.code == "invalid_grant"
    assert info.value.details == {"field": field}
    assert info.value.to_dict()["error"] == "invalid_grant"


def test_replace_is_checked_like_a_new_grant() -> None:
    with pytest.raises(InvalidGrantError):
        Grant().replace(can_produce=False)
    assert Grant().replace(can_produce=False, sources=[]).sources == frozenset()


def test_a_grant_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Grant().admin = True  # type: ignore[misc]


def test_string_spellings_are_parsed_to_enums() -> None:
    grant = Grant(sources=["mic", "cam"], scope="room, api", join="ask")
    assert grant.sources == {Source.MIC, Source.CAM}
    assert grant.scope == {Scope.ROOM, Scope.API}
    assert grant.join is JoinMode.ASK


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["cam", "mic"], {Source.CAM, Source.MIC}),
        ("cam, screen ,", {Source.CAM, Source.SCREEN}),
        ({"cam": True, "mic": False, "screen_audio": True}, {Source.CAM, Source.SCREEN_AUDIO}),
        ([], set()),
    ],
)
def test_parse_sources_accepts_lists_strings_and_maps(value: Any, expected: set[Source]) -> None:
    assert parse_sources(value) == expected


def test_parse_sources_refuses_non_boolean_map_values_and_unknown_names() -> None:
    with pytest.raises(InvalidGrantError, match="'cam' must be true or false"):
        parse_sources({"cam": "yes"})
    with pytest.raises(InvalidGrantError, match=r"allowed: cam, mic, screen, screen_audio"):
        parse_sources(["camera"])
    with pytest.raises(InvalidGrantError, match="unknown source"):
        parse_sources([None])  # type: ignore[list-item]


def test_parse_scope_and_join() -> None:
    assert parse_scope(["api"]) == {Scope.API}
    assert parse_scope("") == frozenset()
    assert parse_join("direct") is JoinMode.DIRECT
    with pytest.raises(InvalidGrantError, match="allowed: direct, ask"):
        parse_join(True)


def test_to_dict_uses_canonical_names_in_order_and_sorts_sets() -> None:
    out = Grant(sources=[Source.SCREEN, Source.CAM], scope=[Scope.ROOM, Scope.API]).to_dict()
    assert tuple(out) == PERMISSION_FIELDS
    assert out["sources"] == ["cam", "screen"]
    assert out["scope"] == ["api", "room"]
    assert out["join"] == "direct"


def test_allows_at_most_compares_flags_sources_and_scope() -> None:
    full = Grant(admin=True, hidden=True, recorder=True, scope=frozenset(Scope))
    assert Grant().allows_at_most(full)
    assert not full.allows_at_most(Grant())
    assert not Grant(sources={Source.CAM, Source.MIC}).allows_at_most(Grant(sources={Source.MIC}))
    assert not Grant(scope={Scope.API}).allows_at_most(Grant())
    assert not Grant(recorder=True).allows_at_most(Grant())
    assert Grant(sources={Source.MIC}).allows_at_most(Grant())


def test_to_dict_gives_each_caller_its_own_copy() -> None:
    grant = Grant(sources=frozenset({Source.MIC}))
    first = grant.to_dict()
    first["admin"] = "changed"
    first["sources"].append("changed")
    first["scope"].clear()
    assert grant.to_dict() == {
        **first,
        "admin": False,
        "sources": ["mic"],
        "scope": ["room"],
    }
