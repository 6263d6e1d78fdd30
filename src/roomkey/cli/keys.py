"""``roomkey keys ...``: signing keys. ``generate`` works offline; server commands join this group.

``keys generate`` makes an asymmetric key (PEM, with its public JWK) or, for HS256, a random
32-byte secret (base64url) with a suggested API key id. A private key written to ``--out`` is
readable by its owner only (0600) and never overwrites a file unless ``--force``.
"""

from __future__ import annotations

import secrets
import string
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from roomkey.cli._common import emit_json, write_private_file
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


__all__ = ["AlgChoice", "app", "suggest_api_key"]
