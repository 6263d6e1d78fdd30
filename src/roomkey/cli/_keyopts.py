"""Key options shared by the token commands, and the keys they build.

``--api-key``/``--api-secret`` give an HS256 key (also from ``ROOMKEY_API_KEY`` and
``ROOMKEY_API_SECRET``); ``--key-file`` a PEM key (private to sign, private or public to verify);
``--jwks`` a JWK Set of public keys to verify with. With ``--key-file``, ``--api-key`` is still
the issuer written into (and expected in) the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from roomkey.cli._common import InvalidJsonError, UsageProblem, parse_json, read_bytes
from roomkey.keys import HmacKey, Key, KeyRing, load_pem_key

ApiKeyOpt = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="ROOMKEY_API_KEY",
        help="API key: the token's issuer, and the id of the HMAC key.",
    ),
]
ApiSecretOpt = Annotated[
    str | None,
    typer.Option(
        "--api-secret",
        envvar="ROOMKEY_API_SECRET",
        show_default=False,
        help="HMAC secret (at least 32 bytes) for HS256. Never printed.",
    ),
]
KeyFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help="PEM key file: Ed25519, P-256 or RSA (private to sign; private or public to verify).",
    ),
]
KidOpt = Annotated[
    str | None,
    typer.Option("--kid", help="Key id of --key-file (default: its RFC 7638 thumbprint)."),
]
JwksOpt = Annotated[
    Path | None,
    typer.Option("--jwks", help="JWK Set file (JSON) with public keys to verify with."),
]


@dataclass(frozen=True)
class KeyOptions:
    """The key material a command was given."""

    api_key: str | None = None
    api_secret: str | None = None
    key_file: Path | None = None
    kid: str | None = None
    jwks: Path | None = None

    @property
    def has_keys(self) -> bool:
        """True when some key material (not only an API key) was given."""
        return bool(self.api_secret or self.key_file or self.jwks)


def signing_key(opts: KeyOptions) -> Key:
    """The key to sign with: ``--key-file`` if given, else the HMAC key of key and secret."""
    _require_pair(opts)
    if opts.key_file is not None:
        pem = read_bytes(opts.key_file, "key file")
        return load_pem_key(pem, opts.kid, issuer=opts.api_key)
    if not opts.api_key or not opts.api_secret:
        raise UsageProblem(
            "give --api-key and --api-secret (or ROOMKEY_API_KEY and ROOMKEY_API_SECRET), "
            "or --key-file"
        )
    return HmacKey(opts.api_key, opts.api_secret)


def verification_keys(opts: KeyOptions) -> KeyRing:
    """A key ring with every key given; at least one is required."""
    _require_pair(opts)
    if not opts.has_keys:
        raise UsageProblem(
            "give --api-key and --api-secret (or ROOMKEY_API_KEY and ROOMKEY_API_SECRET), "
            "--key-file or --jwks"
        )
    ring = KeyRing()
    if opts.api_key and opts.api_secret:
        ring.add_hmac(opts.api_key, opts.api_secret)
    if opts.key_file is not None:
        ring.add_pem(read_bytes(opts.key_file, "key file"), opts.kid, issuer=opts.api_key)
    if opts.jwks is not None:
        document = parse_json(read_bytes(opts.jwks, "JWK Set"), "the JWK Set")
        if not isinstance(document, dict):
            raise InvalidJsonError("the JWK Set must be a JSON object with a 'keys' list")
        ring.add_jwks(document)
    return ring


def _require_pair(opts: KeyOptions) -> None:
    if opts.api_secret and not opts.api_key:
        raise UsageProblem("--api-secret needs --api-key (or ROOMKEY_API_KEY)")
    if opts.kid and opts.key_file is None:
        raise UsageProblem("--kid names the key of --key-file; give --key-file too")


__all__ = [
    "ApiKeyOpt",
    "ApiSecretOpt",
    "JwksOpt",
    "KeyFileOpt",
    "KeyOptions",
    "KidOpt",
    "signing_key",
    "verification_keys",
]
