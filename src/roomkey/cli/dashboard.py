"""``roomkey dashboard``: print a one-time sign-in link to a running server's dashboard.

The way notebook servers hand out a login URL: the command proves itself with the usual
credentials (``--token`` / ``ROOMKEY_TOKEN``, or ``--api-key`` and ``--api-secret``), asks the
server for a link (``POST /v1/dashboard/links``) and prints it. The link signs in once, within
five minutes, with exactly the capabilities of the credentials used, for no longer than they
live. Its code is in the URL's fragment, which browsers never send to a server.
"""

from __future__ import annotations

from typing import Annotated

import typer

from roomkey.cli._common import remember_secret
from roomkey.cli._keyopts import ApiKeyOpt, ApiSecretOpt
from roomkey.cli.remote import (
    CLI_IDENTITY,
    DEFAULT_URL,
    ServerOpt,
    TokenOpt,
    connect,
    duration_s,
    note,
)

DEFAULT_TTL = "1h"


def dashboard(
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    ttl: Annotated[
        str,
        typer.Option(
            "--ttl",
            help="How long the session may last (90s, 15m, 2h; at most 8h, and never longer "
            "than --token lives).",
        ),
    ] = DEFAULT_TTL,
) -> None:
    """Print a one-time sign-in link to the dashboard of a running server."""
    ttl_s = duration_s(ttl, "--ttl")
    if not token and api_key and api_secret:
        # the key's holder owns the project; the session may last what was asked for
        token = _key_token(api_key, api_secret, ttl_s)
    with connect(server, token, api_key, api_secret) as client:
        answer = client.post("/v1/dashboard/links", {"ttl_s": ttl_s})
    typer.echo(f"{client.url}{answer['path']}")
    note("Open it in a browser within 5 minutes; it signs in once.")


def _key_token(api_key: str, api_secret: str, ttl_s: int) -> str:
    from roomkey.minting import AccessToken

    remember_secret(api_secret)
    builder = AccessToken(api_key, api_secret).with_identity(CLI_IDENTITY)
    builder = builder.with_scope("api").with_permissions(capabilities=["admin"])
    minted = builder.with_ttl(ttl_s + 60).to_jwt()
    remember_secret(minted)
    return minted
