"""``roomkey revoke`` and ``roomkey revocations list|lift``: rules, targets and enforcement."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from cli_support import as_json, one_error_line
from remote_support import DEV_KEY, DEV_SECRET, Server, ok, run, running_server

from roomkey import AccessToken
from roomkey.cli._common import UsageProblem
from roomkey.cli.revoke import parse_instant, revocation_body

NOW = 1_795_000_000.0
RULE_FIELDS = {
    "id",
    "kind",
    "created_at",
    "expires_at",
    "jti",
    "identity",
    "room",
    "kid",
    "issued_before",
    "lifted_at",
    "reason",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("server")) as running:
        yield running


# ---- parsing, without a server ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2026-11-23T10:00Z", 1_795_428_000),
        ("2026-11-23T10:00:00+00:00", 1_795_428_000),
        ("2026-11-23T12:00+02:00", 1_795_428_000),
        ("1795428000", 1_795_428_000),
        (" 0 ", 0),
    ],
)
def test_parse_instant(text: str, epoch: int) -> None:
    assert parse_instant(text) == epoch


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2026-11-23T10:00", "no time zone"),
        ("2026-11-23", "no time zone"),
        ("yesterday", "neither ISO 8601"),
        ("-5", "neither ISO 8601"),
    ],
)
def test_parse_instant_refuses(text: str, problem: str) -> None:
    with pytest.raises(UsageProblem, match=problem):
        parse_instant(text)


@pytest.mark.parametrize(
    ("targets", "body"),
    [
        ({"jti": "t1"}, {"jti": "t1"}),
        ({"identity": "alice"}, {"identity": "alice"}),
        ({"identity": "alice", "room": "r"}, {"identity": "alice", "room": "r"}),
        ({"room": "r"}, {"room": "r"}),
        ({"kid": "k"}, {"kid": "k"}),
        ({"issued_before": "1794999000"}, {"issued_before": 1_794_999_000}),
    ],
)
def test_exactly_one_target(targets: dict[str, str], body: dict[str, object]) -> None:
    assert _body(targets, reason="why") == {**body, "reason": "why"}


@pytest.mark.parametrize(
    "targets",
    [
        {},
        {"jti": "t", "kid": "k"},
        {"jti": "t", "room": "r"},
        {"kid": "k", "issued_before": "0"},
        {"identity": "a", "kid": "k"},
    ],
)
def test_anything_but_one_target_is_a_usage_error(targets: dict[str, str]) -> None:
    with pytest.raises(UsageProblem, match="exactly one of"):
        _body(targets)


def test_a_future_issued_before_needs_allow_future() -> None:
    later = {"issued_before": str(int(NOW) + 3600)}
    with pytest.raises(UsageProblem, match="in the future"):
        _body(later)
    assert _body(later, allow_future=True)["issued_before"] == int(NOW) + 3600
    within_skew = {"issued_before": str(int(NOW) + 30)}
    assert _body(within_skew)["issued_before"] == int(NOW) + 30


def _body(targets: dict[str, str], reason: str = "", allow_future: bool = False) -> dict[str, Any]:
    """``revocation_body`` at the fixed clock ``NOW``, with the targets given."""
    return revocation_body(
        targets.get("jti"),
        targets.get("identity"),
        targets.get("room"),
        targets.get("kid"),
        targets.get("issued_before"),
        reason,
        allow_future=allow_future,
        now=lambda: NOW,
    )


# ---- against the server -------------------------------------------------------------------


def _verify(server: Server, token: str) -> dict[str, object]:
    answer = server.http("POST", "/v1/tokens/verify", json={"token": token})
    document: dict[str, object] = answer.json()
    return document


def test_revoke_jti_is_enforced_at_once_and_lift_restores(server: Server) -> None:
    minted = AccessToken(DEV_KEY, DEV_SECRET).with_identity("bob").with_room("r1").mint()
    assert _verify(server, minted.token)["valid"] is True
    jti = minted.claims.jti
    assert jti is not None
    result = ok(server, "revoke", "--jti", jti, "--reason", "leaked", "--json")
    rule = json.loads(result.stdout)
    assert set(rule) == RULE_FIELDS
    assert (rule["kind"], rule["jti"], rule["reason"]) == ("jti", minted.claims.jti, "leaked")
    refused = _verify(server, minted.token)
    assert refused["valid"] is False and refused["code"] == "revoked"
    lifted = as_json(ok(server, "revocations", "lift", rule["id"], "--json"))
    assert lifted["id"] == rule["id"] and lifted["lifted_at"] is not None
    assert _verify(server, minted.token)["valid"] is True


@pytest.mark.parametrize(
    ("args", "kind"),
    [
        (["--identity", "carol"], "identity"),
        (["--identity", "carol", "--room", "standup"], "identity"),
        (["--room", "standup"], "room"),
        (["--kid", "some-key"], "key"),
        (["--issued-before", "2020-01-01T00:00Z"], "issued_before"),
    ],
)
def test_each_target_kind(server: Server, args: list[str], kind: str) -> None:
    rule = as_json(ok(server, "revoke", *args, "--json"))
    assert rule["kind"] == kind


def test_issued_before_is_sent_as_epoch_seconds(server: Server) -> None:
    rule = as_json(ok(server, "revoke", "--issued-before", "2020-01-01T00:00Z", "--json"))
    assert rule["issued_before"] == 1_577_836_800


def test_text_output_shows_the_rule_without_empty_fields(server: Server) -> None:
    out = ok(server, "revoke", "--identity", "dave", "--reason", "left the team").stdout
    lines = [line.split(None, 1) for line in out.splitlines()[1:] if line.strip()]
    shown = {pair[0] for pair in lines}
    assert out.startswith("revoked") and {"id", "kind", "identity", "reason"} <= shown
    assert not shown & {"jti", "kid", "lifted_at"}


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--jti", "a", "--kid", "b"],
        ["--jti", "a", "--room", "r"],
        ["--issued-before", "2026-11-23T10:00"],
        ["--issued-before", "2999-01-01T00:00Z"],
    ],
)
def test_usage_errors_exit_2_and_send_nothing(server: Server, args: list[str]) -> None:
    before = server.http("GET", "/v1/revocations").json()
    result = run(server, ["revoke", *args])
    assert result.exit_code == 2 and result.stdout == ""
    assert one_error_line(result).endswith("[usage_error]")
    assert server.http("GET", "/v1/revocations").json() == before


def test_list_and_include_lifted(server: Server) -> None:
    rule = as_json(ok(server, "revoke", "--identity", "erin", "--json"))
    active = as_json(ok(server, "revocations", "list", "--json"))
    assert rule["id"] in [r["id"] for r in active]
    assert all(set(r) == RULE_FIELDS for r in active)
    ok(server, "revocations", "lift", rule["id"])
    assert rule["id"] not in [r["id"] for r in as_json(ok(server, "revocations", "list", "--json"))]
    everything = as_json(ok(server, "revocations", "list", "--include-lifted", "--json"))
    assert rule["id"] in [r["id"] for r in everything]


def test_list_text(server: Server) -> None:
    rule = as_json(ok(server, "revoke", "--identity", "frank", "--json"))
    table = ok(server, "revocations", "list").stdout
    assert table.splitlines()[0].split()[:3] == ["ID", "KIND", "JTI"]
    row = next(line for line in table.splitlines() if rule["id"] in line)
    assert "identity" in row and "frank" in row


def test_lift_text_and_unknown_rule(server: Server) -> None:
    rule = as_json(ok(server, "revoke", "--identity", "gina", "--json"))
    out = ok(server, "revocations", "lift", rule["id"]).stdout
    assert out.startswith("lifted") and "lifted_at" in out
    unknown = run(server, ["revocations", "lift", "rev_nope"])
    assert unknown.exit_code == 1
    assert one_error_line(unknown) == "error: no such revocation [not_found]"
