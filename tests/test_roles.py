"""Role presets, custom roles and deep-merging overrides over a role."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from roomkey.errors import InvalidGrantError, InvalidRoleError
from roomkey.grants import ALL_SOURCES, Grant, JoinMode, Scope, Source
from roomkey.keys import HmacKey
from roomkey.minting import AccessToken, TokenMinter
from roomkey.roles import (
    DENY_ALL,
    MAX_ROLE_NAME,
    PRESETS,
    CustomRole,
    Role,
    canonical_key,
    check_role_name,
    lookup_preset,
    merge_overrides,
    resolve_role,
)

SECRET = "test-secret-that-is-at-least-32-bytes-long!"
NOW = 1_795_000_000


def test_role_names_are_spelt_as_the_seed_spells_them() -> None:
    assert [r.value for r in Role] == ["host", "coHost", "guest", "speaker", "listener", "bot"]


@pytest.mark.parametrize("spelling", ["coHost", "cohost", "CO_HOST", "co-host", "CoHost"])
def test_presets_are_found_in_any_common_spelling(spelling: str) -> None:
    assert lookup_preset(spelling) is Role.CO_HOST
    assert resolve_role(spelling) == ("coHost", PRESETS[Role.CO_HOST])


def test_an_unknown_role_suggests_the_closest_name() -> None:
    with pytest.raises(InvalidRoleError, match="unknown role 'speakr'; did you mean 'speaker'"):
        resolve_role("speakr")
    with pytest.raises(InvalidRoleError, match=r"known: host, coHost"):
        resolve_role("zzzzzz")


def test_custom_roles_resolve_by_name_and_deny_what_they_do_not_name() -> None:
    role = CustomRole.from_permissions("interpreter", {"can_consume": True, "sources": ["mic"]})
    assert role.grant == DENY_ALL.replace(
        can_consume=True, can_produce=True, sources=frozenset({Source.MIC})
    )
    assert resolve_role("interpreter", {"interpreter": role}) == ("interpreter", role.grant)
    assert resolve_role(role) == ("interpreter", role.grant)


@pytest.mark.parametrize("permissions", [{}, None, ["can_consume"]])
def test_a_custom_role_without_permissions_is_refused(permissions: Any) -> None:
    with pytest.raises(InvalidRoleError, match="needs explicit permissions") as info:
        CustomRole.from_permissions("empty", permissions)
    assert info.value.code == "invalid_role"


def test_role_names_longer_than_twenty_characters_are_refused() -> None:
    assert check_role_name("x" * MAX_ROLE_NAME) == "x" * 20
    with pytest.raises(InvalidRoleError, match="longer than 20 characters"):
        CustomRole.from_permissions("x" * 21, {"can_consume": True})


@pytest.mark.parametrize("name", ["", "   ", "line\nbreak", 7])
def test_empty_non_text_or_unprintable_role_names_are_refused(name: Any) -> None:
    with pytest.raises(InvalidRoleError):
        check_role_name(name)


def test_ask_together_with_moderate_in_one_request_is_refused() -> None:
    with pytest.raises(InvalidGrantError, match=r"contradicts moderate/admin rights \(requested\)"):
        merge_overrides(PRESETS[Role.GUEST], {"join": "ask", "moderate": True})
    with pytest.raises(InvalidGrantError, match="requested"):
        merge_overrides(PRESETS[Role.GUEST], {"join": "ask", "admin": True})


def test_ask_over_a_moderating_role_is_refused_naming_the_role() -> None:
    with pytest.raises(InvalidGrantError, match=r"\(given by the role\)"):
        merge_overrides(PRESETS[Role.HOST], {"join": "ask"})
    with pytest.raises(InvalidGrantError, match="requested"):
        merge_overrides(PRESETS[Role.HOST], {"join": "ask", "admin": False})
    grant = merge_overrides(PRESETS[Role.HOST], {"join": "ask", "admin": False, "moderate": False})
    assert (grant.join, grant.admin, grant.moderate) == (JoinMode.ASK, False, False)


def test_naming_sources_while_turning_produce_off_is_refused() -> None:
    with pytest.raises(InvalidGrantError, match="sources are named while can_produce is set false"):
        merge_overrides(PRESETS[Role.GUEST], {"can_produce": False, "sources": ["cam"]})
    with pytest.raises(InvalidGrantError, match="sources are named"):
        merge_overrides(PRESETS[Role.GUEST], {"canPublish": False, "sources": {"mic": True}})


def test_turning_produce_off_over_a_role_clears_its_sources() -> None:
    grant = merge_overrides(PRESETS[Role.SPEAKER], {"can_produce": False})
    assert (grant.can_produce, grant.sources) == (False, frozenset())
    grant = merge_overrides(PRESETS[Role.HOST], {"canPublish": False})
    assert (grant.can_produce, grant.sources, grant.admin) == (False, frozenset(), True)


def test_turning_produce_on_over_a_silent_role_allows_every_source() -> None:
    grant = merge_overrides(PRESETS[Role.LISTENER], {"can_produce": True})
    assert grant.sources == ALL_SOURCES
    grant = merge_overrides(PRESETS[Role.SPEAKER], {"can_produce": True})
    assert grant.sources == {Source.MIC}
    with pytest.raises(InvalidGrantError, match="every source is turned off"):
        merge_overrides(PRESETS[Role.SPEAKER], {"can_produce": True, "sources": {"mic": False}})


def test_a_sources_map_merges_deeply_and_a_list_replaces() -> None:
    grant = merge_overrides(PRESETS[Role.SPEAKER], {"sources": {"screen": True}})
    assert grant.sources == {Source.MIC, Source.SCREEN}
    grant = merge_overrides(PRESETS[Role.GUEST], {"canProduceSources": {"cam": False}})
    assert grant.sources == ALL_SOURCES - {Source.CAM}
    assert merge_overrides(PRESETS[Role.GUEST], {"sources": ["cam"]}).sources == {Source.CAM}
    silent = merge_overrides(PRESETS[Role.SPEAKER], {"sources": {"mic": False}})
    assert (silent.can_produce, silent.sources) == (False, frozenset())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sources": None}, "not null"),
        ({"sources": {"cam": 1}}, "'cam' must be true or false"),
        ({"sources": {"webcam": True}}, "unknown source 'webcam'"),
        ({"can_produce": "no"}, "can_produce must be true or false"),
        ({"hidden": "yes"}, "hidden must be true or false"),
        ({"scope": "everything"}, "unknown scope"),
        ({"join": "later"}, "unknown join mode"),
        # these were a TypeError (a 500 on the server): a number is not a list
        ({"sources": 5}, "sources must be a list of names"),
        ({"scope": 5}, "scope must be a list of names"),
        ({"scope": {"room": True}}, "scope must be a list of names, not a map"),
        # null was read as "not given" here only; every other flag refuses it
        ({"can_produce": None}, "can_produce must be true or false"),
    ],
)
def test_malformed_overrides_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidGrantError, match=message):
        merge_overrides(PRESETS[Role.GUEST], overrides)


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("canPublsh", "canPublish"),
        ("can_produse", "can_produce"),
        ("canSubcribe", "canSubscribe"),
        ("admn", "admin"),
        ("recoder", "recorder"),
    ],
)
def test_unknown_permission_keys_get_did_you_mean(key: str, hint: str) -> None:
    with pytest.raises(
        InvalidGrantError, match=f"unknown permission '{key}'; did you mean '{hint}'"
    ):
        merge_overrides(PRESETS[Role.GUEST], {key: True})


def test_an_unrecognisable_key_is_refused_without_a_hint() -> None:
    with pytest.raises(InvalidGrantError) as info:
        canonical_key("zzzzzzzz")
    assert info.value.message == "unknown permission 'zzzzzzzz'"
    assert info.value.details == {"field": "zzzzzzzz"}


@pytest.mark.parametrize(
    ("alias", "field"),
    [
        ("canSubscribe", "can_consume"),
        ("canPublishData", "can_send_data"),
        ("canUpdateOwnMetadata", "can_update_metadata"),
        ("roomAdmin", "admin"),
        ("canRecvData", "can_recv_data"),
    ],
)
def test_livekit_and_huddle01_spellings_are_aliases(alias: str, field: str) -> None:
    assert canonical_key(alias) == field
    value = not getattr(PRESETS[Role.GUEST], field)
    assert getattr(merge_overrides(PRESETS[Role.GUEST], {alias: value}), field) is value


def test_scope_and_join_overrides() -> None:
    grant = merge_overrides(PRESETS[Role.BOT], {"scope": ["api"]})
    assert grant.scope == {Scope.API}
    assert merge_overrides(PRESETS[Role.GUEST], {"join": "ask"}).join is JoinMode.ASK


def test_minting_refuses_the_same_contradictions_before_signing() -> None:
    builder = AccessToken("APIkey1", SECRET, now=lambda: NOW).with_identity("a").with_room("r")
    with pytest.raises(InvalidGrantError, match="given by the role"):
        builder.with_role(Role.HOST).with_join("ask").mint()
    minter = TokenMinter(HmacKey("APIkey1", SECRET), now=lambda: NOW)
    with pytest.raises(InvalidGrantError, match="did you mean 'canPublish'"):
        minter.mint(identity="a", room="r", permissions={"canPublsh": False})
    with pytest.raises(InvalidRoleError, match="longer than 20"):
        minter.mint(identity="a", role=CustomRole.from_permissions("y" * 21, {"admin": True}))


def test_a_minted_role_carries_exactly_its_preset() -> None:
    minter = TokenMinter(HmacKey("APIkey1", SECRET), now=lambda: NOW)
    for role in Role:
        minted = minter.mint(identity="a", room="r", role=role, ttl=timedelta(minutes=5))
        assert (minted.claims.role, minted.claims.grant) == (role.value, PRESETS[role])
    assert minter.mint(identity="a").claims.grant == PRESETS[Role.GUEST]
    # an API-only token without a role gets no media rights (recv_data stays on: LiveKit can't
    # express it off, and it means nothing to the API)
    api_only = minter.mint(permissions={"scope": ["api"]}).claims
    assert api_only.role is None
    assert api_only.grant == Grant(
        can_consume=False,
        can_produce=False,
        sources=frozenset(),
        can_send_data=False,
        can_recv_data=True,
        can_update_metadata=False,
        scope=frozenset({Scope.API}),
    )
