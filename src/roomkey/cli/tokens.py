"""``roomkey token create | inspect | verify``: mint, explain and check tokens.

They run locally; ``verify --server`` alone asks a server (the only one that sees revocations).
Each command is thin: it turns flags into core objects (:class:`TokenMinter`,
:func:`inspect_token`, :class:`TokenVerifier`) and prints what they return.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from roomkey.cli._common import (
    EXIT_INVALID,
    UsageProblem,
    emit_json,
    read_token,
    remember_secret,
    say_error,
)
from roomkey.cli._keyopts import (
    ApiKeyOpt,
    ApiSecretOpt,
    JwksOpt,
    KeyFileOpt,
    KeyOptions,
    KidOpt,
    signing_key,
    verification_keys,
)
from roomkey.cli._parsing import (
    json_or_text,
    parse_attributes,
    parse_ttl,
    permissions_from_flags,
    role_and_overrides,
)
from roomkey.cli._render import render_inspection
from roomkey.cli.remote import TokenOpt, connect
from roomkey.errors import TokenError, UnsupportedByDialectError
from roomkey.inspecting import Inspection, inspect_token
from roomkey.minting import MintedToken, TokenMinter
from roomkey.verifying import DEFAULT_LEEWAY_S, TokenVerifier, VerifiedToken

app = typer.Typer(no_args_is_help=True, help="Mint, inspect and verify access tokens.")


class DialectName(StrEnum):
    """The wire formats ``token create`` can write."""

    NATIVE = "native"
    LIVEKIT = "livekit"
    VIDEOSDK = "videosdk"
    HUDDLE01 = "huddle01"


class JoinChoice(StrEnum):
    """``--join`` values."""

    DIRECT = "direct"
    ASK = "ask"


class ScopeChoice(StrEnum):
    """The scope a token is checked for."""

    ROOM = "room"
    API = "api"


TokenArg = Annotated[str, typer.Argument(help="The token, or - to read it from stdin.")]
RoomOpt = Annotated[str | None, typer.Option("--room", help="Room the token is bound to.")]
IdentityOpt = Annotated[str | None, typer.Option("--identity", help="Participant identity.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
CheckScopeOpt = Annotated[
    ScopeChoice, typer.Option("--scope", help="Scope the token must have.", case_sensitive=False)
]


@app.command("create")
def create(
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    key_file: KeyFileOpt = None,
    kid: KidOpt = None,
    room: RoomOpt = None,
    identity: IdentityOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    role: Annotated[
        str | None,
        typer.Option(
            "--role",
            help="Preset (host, coHost, guest, speaker, listener, bot) or a "
            "custom role name defined by --grant.",
        ),
    ] = None,
    grant: Annotated[
        list[str] | None,
        typer.Option(
            "--grant",
            help="Permission override k=v (value parsed as JSON when it can "
            "be), or a JSON object. Repeatable.",
        ),
    ] = None,
    sources: Annotated[
        str | None, typer.Option("--sources", help="Sources that may be published: cam,mic,...")
    ] = None,
    metadata: Annotated[
        str | None, typer.Option("--metadata", help="Metadata: JSON, or else a plain string.")
    ] = None,
    attribute: Annotated[
        list[str] | None, typer.Option("--attribute", help="Attribute k=v. Repeatable.")
    ] = None,
    ttl: Annotated[str, typer.Option("--ttl", help="Lifetime: 90s, 15m, 2h, 1d or seconds.")] = (
        "15m"
    ),
    join: Annotated[
        JoinChoice | None, typer.Option("--join", help="direct, or ask (wait in the lobby).")
    ] = None,
    scope: Annotated[str | None, typer.Option("--scope", help="room, api or room,api.")] = None,
    capabilities: Annotated[
        str | None,
        typer.Option(
            "--capabilities",
            help="Server-API capabilities, comma-separated (e.g. rooms:write,tokens:issue; "
            "admin = all). Implies --scope api unless --scope is given.",
        ),
    ] = None,
    dialect: Annotated[
        DialectName, typer.Option("--dialect", help="Wire format.", case_sensitive=False)
    ] = DialectName.NATIVE,
    as_json: JsonOpt = False,
) -> None:
    """Mint a token. Prints only the token, unless --json."""
    remember_secret(api_secret)
    key = signing_key(KeyOptions(api_key, api_secret, key_file, kid))
    permissions = permissions_from_flags(grant or [], sources, join, scope, capabilities)
    role_value, overrides = role_and_overrides(role, permissions)
    minter = TokenMinter(key, dialect.value, api_key=api_key)
    try:
        minted = minter.mint(
            identity=identity,
            room=room,
            role=role_value,
            permissions=overrides,
            name=name,
            metadata=None if metadata is None else json_or_text(metadata),
            attributes=parse_attributes(attribute or []),
            ttl=parse_ttl(ttl),
        )
    except UnsupportedByDialectError as exc:
        raise name_unsupported_field(exc) from None
    if as_json:
        emit_json(minted_to_dict(minted))
    else:
        typer.echo(minted.token)


# The claims a dialect may refuse, and the flag that sets each (grant fields come from roles).
_CLAIM_FLAGS = {"metadata": "--metadata", "name": "--name", "attributes": "--attribute"}


def name_unsupported_field(exc: UnsupportedByDialectError) -> UnsupportedByDialectError:
    """The same refusal, naming the (canonical) field and the flag to change."""
    field = str(exc.details.get("field", ""))
    if field in _CLAIM_FLAGS:
        hint = f"field: {field}; leave out {_CLAIM_FLAGS[field]} for this format"
    else:
        hint = f"field: {field}; pick a --role, --grant or --sources this format can express"
    return UnsupportedByDialectError(f"{exc.message} ({hint})", **exc.details)


def minted_to_dict(minted: MintedToken) -> dict[str, Any]:
    """The ``token create --json`` document."""
    return {
        "token": minted.token,
        "dialect": minted.dialect,
        "kid": minted.kid,
        "jti": minted.claims.jti,
        "expires_at": minted.claims.expires_at,
        "claims": minted.claims.to_dict(),
    }


@app.command("inspect")
def inspect(
    token: TokenArg,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    key_file: KeyFileOpt = None,
    kid: KidOpt = None,
    jwks: JwksOpt = None,
    room: RoomOpt = None,
    identity: IdentityOpt = None,
    scope: CheckScopeOpt = ScopeChoice.ROOM,
    as_json: JsonOpt = False,
) -> None:
    """Explain a token without trusting it; with keys, also run each check.

    Exits 0 when the token decodes, even with warnings; 1 when it cannot, or a check fails.
    """
    remember_secret(api_secret)
    text = read_token(token)
    opts = KeyOptions(api_key, api_secret, key_file, kid, jwks)
    keys = verification_keys(opts) if opts.has_keys else None
    report = inspect_token(text, keys=keys, room=room, identity=identity, scope=scope.value)
    if as_json:
        emit_json(report.to_dict())
    else:
        render_inspection(report)
    _exit_for_inspection(report)


def _exit_for_inspection(report: Inspection) -> None:
    if report.error is not None:
        say_error(f"cannot decode the token: {report.error}", "malformed")
        raise typer.Exit(EXIT_INVALID)
    failed = next((c for c in report.checks if c.status == "failed"), None)
    if failed is not None:
        say_error(f"{failed.step}: {failed.detail}", failed.code or "invalid_token")
        raise typer.Exit(EXIT_INVALID)


# An offline check sees the keys it is given, never the server's revocations or room state.
OFFLINE_NOTE = (
    "checked offline with the keys given: revocations are not seen; "
    "pass --server URL to verify through the server"
)
VerifyServerOpt = Annotated[
    str | None,
    typer.Option(
        "--server",
        show_default=False,
        help="Verify through this roomkey server (POST /v1/tokens/verify), which also sees "
        "revocations. Default: offline, with the keys given. ROOMKEY_URL is not read here.",
    ),
]


@app.command("verify")
def verify(
    token: TokenArg,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    key_file: KeyFileOpt = None,
    kid: KidOpt = None,
    jwks: JwksOpt = None,
    room: RoomOpt = None,
    identity: IdentityOpt = None,
    scope: CheckScopeOpt = ScopeChoice.ROOM,
    leeway: Annotated[
        float, typer.Option("--leeway", help="Clock leeway in seconds (0 to 300).")
    ] = DEFAULT_LEEWAY_S,
    server: VerifyServerOpt = None,
    server_token: TokenOpt = None,
) -> None:
    """Run every check. Prints the claims as JSON (exit 0) or why the token is refused (exit 1).

    Offline (the default) it cannot see revocations; --server asks a server, which does.
    """
    remember_secret(api_secret)
    check = {"token": read_token(token), "room": room, "identity": identity, "scope": scope.value}
    if server is None:
        keys = verification_keys(KeyOptions(api_key, api_secret, key_file, kid, jwks))
        _verify_offline(TokenVerifier(keys, leeway_s=leeway), check)
    elif key_file or kid or jwks:
        raise UsageProblem(
            "--key-file, --kid and --jwks verify offline; leave them out with --server"
        )
    else:
        _verify_on_server(server, server_token, api_key, api_secret, check)


def _verify_offline(verifier: TokenVerifier, check: dict[str, Any]) -> None:
    """Print the verdict, marked offline; a refusal goes on to the error boundary (exit 1)."""
    try:
        verified = verifier.verify(
            check["token"], room=check["room"], identity=check["identity"], scope=check["scope"]
        )
    except TokenError as exc:
        refusal = {"valid": False, "code": exc.code, "message": exc.message, **_details(exc)}
        emit_json({**refusal, **_offline()})
        raise  # the error boundary prints the stderr line and exits 1
    emit_json({**verified_to_dict(verified), **_offline()})
    typer.echo(f"note: {OFFLINE_NOTE}", err=True)


def _offline() -> dict[str, Any]:
    # what a script needs to tell this answer from a server's, which also checks revocations
    return {"checked": "offline", "revocations_checked": False}


def _verify_on_server(
    server: str,
    server_token: str | None,
    api_key: str | None,
    api_secret: str | None,
    check: dict[str, Any],
) -> None:
    """Print the server's verify answer as it is; exit 1 with its reason when invalid."""
    with connect(server, server_token, api_key, api_secret, anonymous_ok=True) as client:
        answer = client.post("/v1/tokens/verify", check)
    emit_json(answer)
    if not (isinstance(answer, dict) and answer.get("valid") is True):
        reason = answer if isinstance(answer, dict) else {}
        say_error(
            str(reason.get("message") or "the token is invalid"),
            str(reason.get("code") or "invalid_token"),
        )
        raise typer.Exit(EXIT_INVALID)


def _details(exc: TokenError) -> dict[str, Any]:
    return {"details": exc.details} if exc.details else {}


def verified_to_dict(verified: VerifiedToken) -> dict[str, Any]:
    """The ``token verify`` document for a valid token."""
    return {
        "valid": True,
        "dialect": verified.dialect,
        "kid": verified.kid,
        "alg": verified.alg,
        "grant": verified.grant.to_dict(),
        "claims": verified.claims.to_dict(),
        "unknown_keys": list(verified.unknown_keys),
    }


__all__ = ["DialectName", "JoinChoice", "ScopeChoice", "app", "minted_to_dict", "verified_to_dict"]
