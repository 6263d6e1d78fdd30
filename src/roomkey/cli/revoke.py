"""``roomkey revoke`` and ``roomkey revocations list | lift``: revocation rules on a server.

A rule names exactly one target: a token (``--jti``), an identity (optionally only in one room:
``--identity alice --room ID``), a whole room (``--room``), a key (``--kid``), or every token
issued before an instant (``--issued-before``, ISO 8601 with a zone such as
``2026-11-23T10:00Z``, or epoch seconds). The server persists the rule before answering and
enforces it at once.

An ``--issued-before`` in the future is refused unless ``--allow-future``: such a rule also
revokes every token issued from now until then, the server tokens this CLI mints included, and
would lock the project's API out until that instant.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import typer

from roomkey.cli._common import UsageProblem, emit_json
from roomkey.cli._keyopts import ApiKeyOpt, ApiSecretOpt
from roomkey.cli.remote import (
    DEFAULT_URL,
    JsonOpt,
    ServerOpt,
    TokenOpt,
    connect,
    print_record,
    segment,
    show_table,
)

revocations_app = typer.Typer(no_args_is_help=True, help="Revocation rules on a roomkey server.")

FUTURE_SLACK_S = 60  # clock skew between this machine and the server
ONE_TARGET = (
    "give exactly one of --jti, --identity (optionally with --room), --room, --kid "
    "or --issued-before"
)
_RULE_COLUMNS = (
    ("id", "ID"),
    ("kind", "KIND"),
    ("jti", "JTI"),
    ("identity", "IDENTITY"),
    ("room", "ROOM"),
    ("kid", "KID"),
    ("issued_before", "ISSUED BEFORE"),
    ("created_at", "CREATED"),
    ("expires_at", "EXPIRES"),
    ("lifted_at", "LIFTED"),
    ("reason", "REASON"),
)


def parse_instant(text: str) -> int:
    """Epoch seconds from ``1795400000`` or an ISO 8601 time with a zone (``...T10:00Z``)."""
    value = text.strip()
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageProblem(
            f"--issued-before {text!r} is neither ISO 8601 (2026-11-23T10:00Z) nor epoch seconds"
        ) from None
    if moment.tzinfo is None:
        raise UsageProblem(
            f"--issued-before {text!r} has no time zone; add Z (UTC) or an offset like +02:00"
        )
    return int(moment.timestamp())


def revocation_body(
    jti: str | None,
    identity: str | None,
    room: str | None,
    kid: str | None,
    issued_before: str | None,
    reason: str,
    *,
    allow_future: bool = False,
    now: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """The request body; anything but exactly one target is a usage error, and so is a future
    ``issued_before`` unless ``allow_future``."""
    targets = [jti, identity, kid, issued_before, room if identity is None else None]
    if sum(t is not None for t in targets) != 1:
        raise UsageProblem(ONE_TARGET)
    body: dict[str, Any] = {"reason": reason}
    fields = {"jti": jti, "identity": identity, "room": room, "kid": kid}
    body.update({k: v for k, v in fields.items() if v is not None})
    if issued_before is not None:
        instant = parse_instant(issued_before)
        if instant > now() + FUTURE_SLACK_S and not allow_future:
            raise UsageProblem(
                f"--issued-before {issued_before!r} is in the future: the rule would also revoke "
                "every token issued from now until then, this CLI's own server tokens included; "
                "pass --allow-future if that is what you want"
            )
        body["issued_before"] = instant
    return body


def revoke(
    jti: Annotated[str | None, typer.Option("--jti", help="Revoke one token by its id.")] = None,
    identity: Annotated[
        str | None, typer.Option("--identity", help="Revoke an identity (with --room: there only).")
    ] = None,
    room: Annotated[
        str | None, typer.Option("--room", help="Revoke every token for a room.")
    ] = None,
    kid: Annotated[
        str | None, typer.Option("--kid", help="Revoke every token signed by a key.")
    ] = None,
    issued_before: Annotated[
        str | None,
        typer.Option(
            "--issued-before",
            help="Revoke every token issued before: 2026-11-23T10:00Z or epoch seconds.",
        ),
    ] = None,
    allow_future: Annotated[
        bool,
        typer.Option("--allow-future", help="Accept an --issued-before later than now."),
    ] = False,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (kept with the rule, at most 200 characters).")
    ] = "",
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke tokens by id, identity, room, key or issue time; enforced at once."""
    body = revocation_body(
        jti, identity, room, kid, issued_before, reason, allow_future=allow_future
    )
    with connect(server, token, api_key, api_secret) as client:
        rule = client.post("/v1/revocations", body)
    if as_json:
        emit_json(rule)
    else:
        print_record(_filled(rule), "revoked")


@revocations_app.command("list")
def list_revocations(
    include_lifted: Annotated[
        bool, typer.Option("--include-lifted", help="Also list rules that were lifted.")
    ] = False,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the project's revocation rules."""
    with connect(server, token, api_key, api_secret) as client:
        rules = client.get("/v1/revocations", include_lifted=str(include_lifted).lower())
    show_table(rules, rules, _RULE_COLUMNS, "no revocation rules", as_json)


@revocations_app.command("lift")
def lift(
    revocation_id: Annotated[str, typer.Argument(help="The rule's id (rev_...).")],
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Lift a revocation rule: the tokens it covered verify again."""
    with connect(server, token, api_key, api_secret) as client:
        rule = client.call("DELETE", f"/v1/revocations/{segment(revocation_id)}")[1]
    if as_json:
        emit_json(rule)
    else:
        print_record(_filled(rule), "lifted")


def _filled(rule: dict[str, Any]) -> dict[str, Any]:
    """The rule without its empty fields (a rule names one target)."""
    return {k: v for k, v in rule.items() if v not in (None, "")}


__all__ = ["parse_instant", "revocation_body", "revocations_app", "revoke"]
