"""Dashboard pages for webhooks: endpoints (a secret shown once on creation and rotation) and
each endpoint's delivery log, with redelivery.

Every page and form needs the ``webhooks`` capability through the API's own pipeline
(:data:`~roomkey.api.deps.WEBHOOKS`) and calls the webhook service as the routes of
``/v1/webhooks`` do, with the bodies checked by the same schemas.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from roomkey.api.dashboard.forms import integer, parse
from roomkey.api.dashboard.web import (
    PREFIX,
    DashboardRoute,
    Form,
    Visit,
    htmx,
    read_form,
    redirect,
    visit,
)
from roomkey.api.deps import WEBHOOKS
from roomkey.api.routers.webhooks import MAX_ID
from roomkey.api.schemas_webhooks import WebhookCreate, WebhookRotate, WebhookUpdate
from roomkey.errors import InvalidRequestError, RoomkeyError
from roomkey.service.webhooks import EndpointChange
from roomkey.service.webhooks.events import OPT_IN, WebhookEvent
from roomkey.service.webhooks.livekit import LIVEKIT_TYPES

router = APIRouter(prefix=PREFIX, route_class=DashboardRoute, include_in_schema=False)
DELIVERIES_PAGE = 25
STATUSES = ("pending", "delivered", "dead")
EVENT_TYPES = tuple(
    (t.value, t in OPT_IN, t in LIVEKIT_TYPES) for t in WebhookEvent
)  # (name, opt-in, LiveKit has it)


def webhook_url(endpoint_id: str) -> str:
    """The dashboard page of an endpoint."""
    return f"{PREFIX}/webhooks/{quote(endpoint_id, safe='')}"


def _endpoint_body(form: Form) -> dict[str, Any]:
    return {
        "url": form.get("url"),
        "event_types": form.all("event_types") or ["*"],
        "format": form.get("format", "standard") or "standard",
        "enabled": form.checked("enabled"),
        "allow_private": form.checked("allow_private"),
        "description": form.get("description"),
    }


# ---- the endpoints ----------------------------------------------------------------------------


async def _webhooks_page(current: Visit, status: int = 200, **context: Any) -> Response:
    caller = await current.require(WEBHOOKS)
    records = await current.service.webhooks.list_endpoints(caller.project_id)
    context.setdefault("created", None)
    context.setdefault("problem", None)
    template = "_webhooks_changed.html" if htmx(current.request) else "webhooks.html"
    return current.render(template, status, endpoints=records, event_types=EVENT_TYPES, **context)


@router.get("/webhooks")
async def webhooks_page(request: Request) -> Response:
    """The project's webhook endpoints."""
    return await _webhooks_page(await visit(request))


@router.post("/webhooks")
async def create_webhook(request: Request) -> Response:
    """A new endpoint; its secret is in this answer only."""
    current = await visit(request)
    caller = await current.require(WEBHOOKS)
    form = await read_form(request)
    try:
        body = parse(WebhookCreate, _endpoint_body(form))
        record, secret = await current.service.webhooks.create(
            caller.project_id, **body.model_dump()
        )
    except RoomkeyError as exc:
        return await _webhooks_page(current, 400, problem=exc)
    return await _webhooks_page(current, created={"record": record, "secret": secret})


# ---- one endpoint and its delivery log ----------------------------------------------------------


async def _webhook_page(
    current: Visit, endpoint_id: str, status: int = 200, **context: Any
) -> Response:
    caller = await current.require(WEBHOOKS)
    record = await current.service.webhooks.get(caller.project_id, endpoint_id)
    query = current.request.query_params
    shown = query.get("status") if query.get("status") in STATUSES else None
    deliveries, next_cursor = await current.service.webhooks.deliveries(
        caller.project_id,
        endpoint_id,
        status=shown,  # type: ignore[arg-type]  # one of STATUSES
        limit=DELIVERIES_PAGE,
        cursor=query.get("cursor") or None,
    )
    context.setdefault("created", None)
    context.setdefault("problem", None)
    template = "_webhook_rotated.html" if htmx(current.request) else "webhook.html"
    return current.render(
        template,
        status,
        endpoint=record,
        url=webhook_url(endpoint_id),
        event_types=EVENT_TYPES,
        deliveries=deliveries,
        next_cursor=next_cursor,
        shown_status=shown,
        statuses=STATUSES,
        notice=query.get("done"),
        **context,
    )


@router.get("/webhooks/{endpoint_id}")
async def webhook_page(request: Request, endpoint_id: str) -> Response:
    """An endpoint: its settings, its secret's rotation, its delivery log (newest first)."""
    return await _webhook_page(await visit(request), endpoint_id)


@router.post("/webhooks/{endpoint_id}")
async def update_webhook(request: Request, endpoint_id: str) -> Response:
    """Change an endpoint's URL, event types, format, flags or description."""
    current = await visit(request)
    caller = await current.require(WEBHOOKS)
    form = await read_form(request)
    try:
        body = parse(WebhookUpdate, _endpoint_body(form))
        change = EndpointChange(**body.model_dump())
        await current.service.webhooks.update(caller.project_id, endpoint_id, change)
    except RoomkeyError as exc:
        return await _webhook_page(current, endpoint_id, 400, problem=exc)
    return redirect(request, f"{webhook_url(endpoint_id)}?done=saved")


@router.post("/webhooks/{endpoint_id}/rotate")
async def rotate_webhook_secret(request: Request, endpoint_id: str) -> Response:
    """A new secret (in this answer only); the old one signs beside it during the overlap."""
    current = await visit(request)
    caller = await current.require(WEBHOOKS)
    form = await read_form(request)
    try:
        overlap = parse(WebhookRotate, {"overlap_s": integer(form, "overlap_s") or 0}).overlap_s
        record, secret = await current.service.webhooks.rotate(
            caller.project_id, endpoint_id, overlap
        )
    except RoomkeyError as exc:
        return await _webhook_page(current, endpoint_id, 400, problem=exc)
    created = {"record": record, "secret": secret, "rotated": True}
    return await _webhook_page(current, endpoint_id, created=created)


@router.post("/webhooks/{endpoint_id}/delete")
async def delete_webhook(request: Request, endpoint_id: str) -> Response:
    """Delete an endpoint and its delivery log."""
    current = await visit(request)
    caller = await current.require(WEBHOOKS)
    await current.service.webhooks.delete(caller.project_id, endpoint_id)
    return redirect(request, f"{PREFIX}/webhooks")


@router.post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver")
async def redeliver(request: Request, endpoint_id: str, delivery_id: str) -> Response:
    """Send a delivery's event again, as a new delivery at the end of the endpoint's queue."""
    current = await visit(request)
    caller = await current.require(WEBHOOKS)
    number = _delivery_id(delivery_id)
    again = await current.service.webhooks.redeliver(caller.project_id, endpoint_id, number)
    return redirect(request, f"{webhook_url(endpoint_id)}?done=redelivered-{again.id}")


def _delivery_id(text: str) -> int:
    """A delivery id from the path; raises InvalidRequestError for anything but 1..2**63-1."""
    if not text.isdigit() or not 1 <= int(text) <= MAX_ID:
        raise InvalidRequestError(f"{text!r} is not a delivery id", field="delivery_id")
    return int(text)
