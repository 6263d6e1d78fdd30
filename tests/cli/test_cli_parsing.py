"""Flag-value parsing for ``token create``: TTLs, grants, attributes, inline custom roles."""

from __future__ import annotations

import pytest

from roomkey.cli._common import UsageProblem
from roomkey.cli._parsing import (
    json_or_text,
    parse_attributes,
    parse_grants,
    parse_ttl,
    permissions_from_flags,
    role_and_overrides,
)
from roomkey.errors import InvalidRoleError
from roomkey.roles import CustomRole


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("45", 45), (" 3M ", 180)],
)
def test_ttl(text: str, seconds: int) -> None:
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "1.5h", "-5m", "15 minutes", "1w"])
def test_bad_ttl(text: str) -> None:
    with pytest.raises(UsageProblem):
        parse_ttl(text)


def test_grant_values_are_json_when_they_parse() -> None:
    grants = parse_grants(["a=true", "b=false", 'c=["cam"]', "d=ask", "e=", '{"f": 1}'])
    assert grants == {"a": True, "b": False, "c": ["cam"], "d": "ask", "e": "", "f": 1}


def test_json_or_text() -> None:
    assert json_or_text('{"x": [1]}') == {"x": [1]}
    assert json_or_text("plain words") == "plain words"


def test_attributes_keep_text_and_equals_signs() -> None:
    assert parse_attributes(["k=a=b", "n=1"]) == {"k": "a=b", "n": "1"}
    assert parse_attributes([]) is None
    with pytest.raises(UsageProblem):
        parse_attributes(["=v"])


def test_permission_flags_merge() -> None:
    out = permissions_from_flags(["hidden=true"], "cam, mic", "ask", "room,api")
    assert out == {"hidden": True, "sources": ["cam", "mic"], "join": "ask", "scope": "room,api"}


def test_preset_keeps_overrides() -> None:
    assert role_and_overrides("coHost", {"hidden": True}) == ("coHost", {"hidden": True})
    assert role_and_overrides(None, {}) == (None, None)


def test_unknown_name_with_grants_is_a_custom_role() -> None:
    role, overrides = role_and_overrides("stage", {"canPublish": True})
    assert isinstance(role, CustomRole) and overrides is None
    assert role.grant.can_produce and not role.grant.can_consume


def test_unknown_name_without_grants_is_an_error() -> None:
    with pytest.raises(InvalidRoleError, match="did you mean 'listener'"):
        role_and_overrides("listner", {})
