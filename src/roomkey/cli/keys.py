"""``roomkey keys ...``: signing keys. ``generate`` works offline; the rest call a server.

``keys generate`` makes an asymmetric key (PEM, with its public JWK) or, for HS256, a random
32-byte secret (base64url) with a suggested API key id. A private key written to ``--out`` is
readable by its owner only (0600) and never overwrites a file unless ``--force``.

``keys create | list | rotate | disable | delete`` manage the keys of a running server's project
(see :mod:`roomkey.cli.remote`). A new API key's secret is printed by ``create`` and ``rotate``
only, once, with a warning on stderr to store it; ``list`` never shows one.
"""

from __future__ import annotations

import secrets
import string
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from roomkey.cli._common import EXIT_USAGE, UsageProblem, emit_json, write_private_file
from roomkey.cli._keyopts import ApiKeyOpt, ApiSecretOpt
from roomkey.cli.remote import (
    DEFAULT_URL,
    JsonOpt,
    ServerOpt,
    TokenOpt,
    connect,
    duration_s,
    fail,
    note,
    print_record,
    segment,
    show_table,
)
from roomkey.keys import generate_key

app = typer.Typer(no_args_is_help=True, help="Signing keys and API keys.")

HMAC_SECRET_BYTES = 32
_KEY_ID_ALPHABET = string.ascii_letters + string.digits


class AlgChoice(StrEnum):
    """Algorithms ``keys generate`` can make keys for."""

    EDDSA = "EdDSA"
    ES256 = "ES256"
    RS256 = "RS256"
    HS256 = "HS256"


@app.command("generate")
def generate(
    alg: Annotated[
        AlgChoice, typer.Option("--alg", help="EdDSA (Ed25519), ES256 (P-256), RS256 or HS256.")
    ] = AlgChoice.EDDSA,
    kid: Annotated[
        str | None,
        typer.Option(
            "--kid", help="Key id (default: the JWK thumbprint; for HS256 a new API key)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the private key (or secret) here, mode 0600."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Generate a signing key (PEM and public JWK) or an HS256 API key and secret."""
    if alg is AlgChoice.HS256:
        document = _hmac_key(kid, out, force)
    else:
        document = _asymmetric_key(alg.value, kid, out, force)
    if as_json:
        emit_json(document)
        return
    typer.echo(_as_text(document), nl=False)
    if out is not None:
        typer.echo(f"wrote the private key to {out} (mode 0600)", err=True)


def suggest_api_key() -> str:
    """A new API key id in LiveKit's style: ``API`` and 12 random letters and digits."""
    return "API" + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(12))


def _hmac_key(kid: str | None, out: Path | None, force: bool) -> dict[str, Any]:
    secret = secrets.token_urlsafe(HMAC_SECRET_BYTES)
    document: dict[str, Any] = {"alg": "HS256", "api_key": kid or suggest_api_key()}
    if out is None:
        document["api_secret"] = secret
    else:
        write_private_file(out, secret.encode() + b"\n", force=force)
        document["out"] = str(out)
    return document


def _asymmetric_key(alg: str, kid: str | None, out: Path | None, force: bool) -> dict[str, Any]:
    key = generate_key(alg, kid)
    document: dict[str, Any] = {"alg": alg, "kid": key.kid, "public_jwk": key.public_jwk()}
    if out is None:
        document["private_pem"] = key.private_pem().decode()
    else:
        write_private_file(out, key.private_pem(), force=force)
        document["out"] = str(out)
    document["public_pem"] = key.public_pem().decode()
    return document


def _as_text(document: dict[str, Any]) -> str:
    if document["alg"] == "HS256":
        lines = [f"ROOMKEY_API_KEY={document['api_key']}"]
        if "api_secret" in document:
            lines.append(f"ROOMKEY_API_SECRET={document['api_secret']}")
        return "\n".join(lines) + "\n"
    jwk = orjson.dumps(document["public_jwk"]).decode()
    private_pem: str = document.get("private_pem", "")
    return private_pem + jwk + "\n"


# ---- server keys ----------------------------------------------------------------------------


class SigningAlg(StrEnum):
    """Algorithms the server makes signing keys for."""

    EDDSA = "EdDSA"
    ES256 = "ES256"
    RS256 = "RS256"


KidArg = Annotated[str, typer.Argument(help="Key id (for an API key, the API key itself).")]
SECRET_WARNING = (
    "warning: store the API secret now; it is shown only this once and cannot be recovered"
)
_KEY_COLUMNS = (
    ("kid", "KID"),
    ("purpose", "PURPOSE"),
    ("alg", "ALG"),
    ("status", "STATUS"),
    ("created_at", "CREATED"),
    ("expires_at", "EXPIRES"),
    ("description", "DESCRIPTION"),
)


@app.command("create")
def create(
    description: Annotated[
        str, typer.Option("--description", help="What the key is for (at most 200 characters).")
    ] = "",
    signing: Annotated[
        bool,
        typer.Option("--signing", help="A signing key (asymmetric) instead of an API key."),
    ] = False,
    alg: Annotated[
        SigningAlg | None,
        typer.Option("--alg", help="With --signing: EdDSA (default), ES256 or RS256."),
    ] = None,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key (its secret is printed once) or, with --signing, a signing key."""
    if alg is not None and not signing:
        raise UsageProblem("--alg is for signing keys; add --signing")
    body: dict[str, Any] = {"description": description, "purpose": "api"}
    if signing:
        body.update(purpose="signing", alg=(alg or SigningAlg.EDDSA).value)
    with connect(server, token, api_key, api_secret) as client:
        created = client.post("/v1/keys", body)
    show_new_key(created, as_json)


@app.command("list")
def list_keys(
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the project's keys (never their secrets)."""
    with connect(server, token, api_key, api_secret) as client:
        keys = client.get("/v1/keys")
    show_table(keys, keys, _KEY_COLUMNS, "no keys", as_json)


@app.command("rotate")
def rotate(
    kid: KidArg,
    overlap: Annotated[
        str,
        typer.Option("--overlap", help="How long the old key still verifies: 90s, 15m, 1h, 1d."),
    ] = "1h",
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replace a key with a new one; the old one keeps verifying for --overlap."""
    body = {"overlap_s": duration_s(overlap, "--overlap")}
    with connect(server, token, api_key, api_secret) as client:
        created = client.post(f"/v1/keys/{segment(kid)}/rotate", body)
    show_new_key(created, as_json)


@app.command("disable")
def disable(
    kid: KidArg,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stop a key at once: tokens it signed stop verifying."""
    with connect(server, token, api_key, api_secret) as client:
        record = client.post(f"/v1/keys/{segment(kid)}/disable")
    if as_json:
        emit_json(record)
    else:
        print_record(record, f"disabled key {kid}")


@app.command("delete")
def delete(
    kid: KidArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking.")] = False,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete a key for good (asks first unless --yes)."""
    if not yes and not _confirmed(f"Delete key {kid!r} for good? Tokens it signed stop verifying."):
        fail(f"key {kid!r} was not deleted (answer y, or pass --yes)", "not_confirmed", EXIT_USAGE)
    with connect(server, token, api_key, api_secret) as client:
        client.call("DELETE", f"/v1/keys/{segment(kid)}")
    if as_json:
        emit_json({"deleted": kid})
    else:
        typer.echo(f"deleted key {kid}")


def _confirmed(question: str) -> bool:
    try:
        return bool(typer.confirm(question, default=False, err=True))
    except typer.Abort:  # end of input: nobody said yes
        typer.echo(err=True)
        return False


def show_new_key(created: dict[str, Any], as_json: bool) -> None:
    """A key just made; an API key's secret once, with a warning on stderr to store it."""
    secret = created.get("api_secret")
    if as_json:
        emit_json(created)
    else:
        public = {k: v for k, v in created.items() if k not in ("api_key", "api_secret")}
        public.pop("public_jwk", None)
        print_record(public, f"new {created.get('purpose', '')} key".replace("  ", " "))
        if created.get("public_jwk"):
            typer.echo(orjson.dumps(created["public_jwk"]).decode())
        if secret:
            typer.echo(f"ROOMKEY_API_KEY={created.get('api_key') or created['kid']}")
            typer.echo(f"ROOMKEY_API_SECRET={secret}")
    if secret:
        note(SECRET_WARNING)


__all__ = ["AlgChoice", "SigningAlg", "app", "show_new_key", "suggest_api_key"]
