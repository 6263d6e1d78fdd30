"""``roomkey webhooks ...``: the webhook endpoints of a running server's project.

``create`` and ``rotate`` print the endpoint's ``whsec_`` secret: the only time it is shown.
``deliveries`` lists an endpoint's delivery log (``--status pending|delivered|dead``);
``redeliver`` queues a delivery's event again. Every command needs the ``webhooks`` capability.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from roomkey.cli._keyopts import ApiKeyOpt, ApiSecretOpt
from roomkey.cli.remote import (
    DEFAULT_URL,
    JsonOpt,
    ServerOpt,
    TokenOpt,
    connect,
    duration_s,
    note,
    segment,
    show_record,
    show_table,
)

app = typer.Typer(no_args_is_help=True, help="Webhook endpoints on a roomkey server.")

HookArg = Annotated[str, typer.Argument(help="The endpoint's id (whk_...).")]
EventsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--event",
        help="An event type to receive (repeat it); default * (all but token.issued).",
    ),
]
_COLUMNS = (
    ("id", "ID"),
    ("url", "URL"),
    ("format", "FORMAT"),
    ("enabled", "ENABLED"),
    ("event_types", "EVENTS"),
)
_DELIVERY_COLUMNS = (
    ("id", "ID"),
    ("event_type", "EVENT"),
    ("status", "STATUS"),
    ("attempts", "ATTEMPTS"),
    ("last_status", "HTTP"),
    ("last_error", "LAST ERROR"),
    ("event_id", "WEBHOOK-ID"),
)


@app.command("create")
def create(
    url: Annotated[str, typer.Argument(help="Where to post: http:// or https://.")],
    events: EventsOpt = None,
    livekit: Annotated[
        bool, typer.Option("--livekit", help="LiveKit's webhook format (its events only).")
    ] = False,
    allow_private: Annotated[
        bool,
        typer.Option("--allow-private", help="Allow a private/loopback address (if permitted)."),
    ] = False,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled.")] = False,
    description: Annotated[str, typer.Option("--description", help="A note for you.")] = "",
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an endpoint; prints its secret (shown this once)."""
    body: dict[str, Any] = {
        "url": url,
        "format": "livekit" if livekit else "standard",
        "allow_private": allow_private,
        "enabled": not disabled,
        "description": description,
    }
    if events:
        body["event_types"] = events
    with connect(server, token, api_key, api_secret) as client:
        created = client.post("/v1/webhooks", body)
    show_record(created, as_json, "created webhook (the secret is shown this once)")


@app.command("list")
def list_webhooks(
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the project's endpoints."""
    with connect(server, token, api_key, api_secret) as client:
        hooks = client.get("/v1/webhooks")
    show_table(hooks, hooks, _COLUMNS, "no webhooks", as_json)


@app.command("update")
def update(
    hook_id: HookArg,
    url: Annotated[str | None, typer.Option("--url", help="A new URL.")] = None,
    events: EventsOpt = None,
    enable: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Deliver, or hold the queue.")
    ] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change an endpoint (options not given stay as they are)."""
    changes = {"url": url, "event_types": events or None, "enabled": enable}
    body = {k: v for k, v in {**changes, "description": description}.items() if v is not None}
    with connect(server, token, api_key, api_secret) as client:
        _, hook = client.call("PATCH", f"/v1/webhooks/{segment(hook_id)}", body=body)
    show_record(hook, as_json, "updated webhook")


@app.command("delete")
def delete(
    hook_id: HookArg,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
) -> None:
    """Delete an endpoint and its delivery log."""
    with connect(server, token, api_key, api_secret) as client:
        client.call("DELETE", f"/v1/webhooks/{segment(hook_id)}")
    note(f"deleted webhook {hook_id}")


@app.command("rotate")
def rotate(
    hook_id: HookArg,
    overlap: Annotated[
        str, typer.Option("--overlap", help="How long the old secret still signs: 1d, 2h, 0.")
    ] = "1d",
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A new secret (shown this once); the old one signs beside it during the overlap."""
    body = {"overlap_s": duration_s(overlap, "--overlap")}
    with connect(server, token, api_key, api_secret) as client:
        rotated = client.post(f"/v1/webhooks/{segment(hook_id)}/rotate", body)
    show_record(rotated, as_json, "new secret (shown this once)")


@app.command("deliveries")
def deliveries(
    hook_id: HookArg,
    status: Annotated[
        str | None, typer.Option("--status", help="pending, delivered or dead.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    cursor: Annotated[str | None, typer.Option("--cursor")] = None,
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The endpoint's delivery log, newest first."""
    path = f"/v1/webhooks/{segment(hook_id)}/deliveries"
    with connect(server, token, api_key, api_secret) as client:
        page = client.get(path, status=status, limit=limit, cursor=cursor)
    show_table(page, page["data"], _DELIVERY_COLUMNS, "no deliveries", as_json)
    if page["next_cursor"]:
        note(f"more deliveries: --cursor {page['next_cursor']}")


@app.command("redeliver")
def redeliver(
    hook_id: HookArg,
    delivery_id: Annotated[int, typer.Argument(help="The delivery's id (from deliveries).")],
    server: ServerOpt = DEFAULT_URL,
    token: TokenOpt = None,
    api_key: ApiKeyOpt = None,
    api_secret: ApiSecretOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a delivery's event again, at the end of the endpoint's queue."""
    path = f"/v1/webhooks/{segment(hook_id)}/deliveries/{delivery_id}/redeliver"
    with connect(server, token, api_key, api_secret) as client:
        again = client.post(path)
    show_record(again, as_json, "queued again")


__all__ = ["app"]
