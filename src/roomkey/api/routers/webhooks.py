"""Webhook endpoints of the caller's project, and their delivery log."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from roomkey.api.body import body_doc, json_body
from roomkey.api.deps import ServiceDep, WebhooksCaller
from roomkey.api.schemas_webhooks import (
    DeliveryPage,
    DeliveryPublic,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
    WebhookRotate,
    WebhookUpdate,
)
from roomkey.service.webhooks import EndpointChange

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
MAX_ID = 2**63 - 1  # delivery ids are 64-bit serials


def webhook_public(record: object) -> WebhookPublic:
    """An endpoint without its secret (the schema names no secret field)."""
    return WebhookPublic.model_validate(record, from_attributes=True)


def _created(record: object, secret: str) -> WebhookCreated:
    public = webhook_public(record)
    return WebhookCreated(**public.model_dump(), secret=secret)


@router.post(
    "",
    response_model=WebhookCreated,
    status_code=201,
    operation_id="create_webhook",
    openapi_extra=body_doc(WebhookCreate),
)
async def create_webhook(
    caller: WebhooksCaller,
    body: Annotated[WebhookCreate, Depends(json_body(WebhookCreate))],
    service: ServiceDep,
) -> WebhookCreated:
    """A new endpoint; its `secret` is in this response only. The URL is checked (and refused
    if it resolves to a private address, unless allowed)."""
    record, secret = await service.webhooks.create(caller.project_id, **body.model_dump())
    return _created(record, secret)


@router.get("", response_model=list[WebhookPublic], operation_id="list_webhooks")
async def list_webhooks(caller: WebhooksCaller, service: ServiceDep) -> list[WebhookPublic]:
    """The project's endpoints, oldest first, without secrets."""
    return [webhook_public(r) for r in await service.webhooks.list_endpoints(caller.project_id)]


@router.get("/{webhook_id}", response_model=WebhookPublic, operation_id="get_webhook")
async def get_webhook(
    webhook_id: str, caller: WebhooksCaller, service: ServiceDep
) -> WebhookPublic:
    """One endpoint, without its secret."""
    return webhook_public(await service.webhooks.get(caller.project_id, webhook_id))


@router.patch(
    "/{webhook_id}",
    response_model=WebhookPublic,
    operation_id="update_webhook",
    openapi_extra=body_doc(WebhookUpdate),
)
async def update_webhook(
    webhook_id: str,
    caller: WebhooksCaller,
    body: Annotated[WebhookUpdate, Depends(json_body(WebhookUpdate))],
    service: ServiceDep,
) -> WebhookPublic:
    """Change an endpoint (fields not sent stay). A disabled endpoint gets no new events; the
    deliveries already queued for it wait until it is enabled again."""
    change = EndpointChange(**body.model_dump())
    return webhook_public(await service.webhooks.update(caller.project_id, webhook_id, change))


@router.delete(
    "/{webhook_id}",
    status_code=204,
    operation_id="delete_webhook",
    response_class=Response,
    responses={204: {"description": "Deleted"}},
)
async def delete_webhook(webhook_id: str, caller: WebhooksCaller, service: ServiceDep) -> Response:
    """Delete an endpoint and its delivery log."""
    await service.webhooks.delete(caller.project_id, webhook_id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate",
    response_model=WebhookCreated,
    operation_id="rotate_webhook_secret",
    openapi_extra=body_doc(WebhookRotate),
)
async def rotate_webhook_secret(
    webhook_id: str,
    caller: WebhooksCaller,
    body: Annotated[WebhookRotate, Depends(json_body(WebhookRotate))],
    service: ServiceDep,
) -> WebhookCreated:
    """A new secret (in this response only); the old one keeps signing beside it (a second
    `v1,` signature) for `overlap_s`."""
    record, secret = await service.webhooks.rotate(caller.project_id, webhook_id, body.overlap_s)
    return _created(record, secret)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage, operation_id="list_deliveries")
async def list_deliveries(
    webhook_id: str,
    caller: WebhooksCaller,
    service: ServiceDep,
    status: Annotated[Literal["pending", "delivered", "dead"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> DeliveryPage:
    """The endpoint's delivery log, newest first (status, attempts, last answer or error)."""
    page, next_cursor = await service.webhooks.deliveries(
        caller.project_id, webhook_id, status=status, limit=limit, cursor=cursor
    )
    data = [DeliveryPublic.model_validate(d, from_attributes=True) for d in page]
    return DeliveryPage(data=data, next_cursor=next_cursor)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryPublic,
    status_code=201,
    operation_id="redeliver_webhook",
)
async def redeliver_webhook(
    webhook_id: str,
    delivery_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    caller: WebhooksCaller,
    service: ServiceDep,
) -> DeliveryPublic:
    """Send a delivery's event again (same `webhook-id`), as a new delivery at the end of
    the endpoint's queue."""
    again = await service.webhooks.redeliver(caller.project_id, webhook_id, delivery_id)
    return DeliveryPublic.model_validate(again, from_attributes=True)
