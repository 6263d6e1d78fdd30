"""Request and response bodies of the webhook routes (endpoints and their delivery log)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from roomkey.api.schemas import WHOLE, Strict

Format = Literal["standard", "livekit"]
EVENT_TYPES_DOC = (
    "Event types to receive; `*` (the default) is every type but the opt-in `token.issued`. "
    "A LiveKit-format endpoint receives only the types LiveKit has."
)


class WebhookCreate(Strict):
    """A new endpoint."""

    url: str = Field(..., min_length=1, max_length=2048, description="http:// or https:// URL.")
    event_types: list[str] | None = Field(None, max_length=32, description=EVENT_TYPES_DOC)
    enabled: bool = True
    format: Format = Field("standard", description="`standard` (Standard Webhooks) or `livekit`.")
    allow_private: bool = Field(
        False,
        description="Allow a URL resolving to a private, loopback or link-local address (only "
        "where the server permits it).",
    )
    livekit_key: str | None = Field(
        None, max_length=256, description="LiveKit format: the API key that signs; default newest."
    )
    description: str = Field("", max_length=200)


class WebhookUpdate(Strict):
    """What to change (fields not sent stay as they are)."""

    url: str | None = Field(None, min_length=1, max_length=2048)
    event_types: list[str] | None = Field(None, max_length=32, description=EVENT_TYPES_DOC)
    enabled: bool | None = None
    format: Format | None = None
    allow_private: bool | None = None
    livekit_key: str | None = Field(None, max_length=256)
    description: str | None = Field(None, max_length=200)


class WebhookRotate(Strict):
    """How long the old secret keeps signing beside the new one."""

    overlap_s: Annotated[int, Field(ge=0, le=30 * 24 * 3600), WHOLE] = 86400


class WebhookPublic(BaseModel):
    """An endpoint, without its secret."""

    id: str
    url: str
    event_types: list[str]
    enabled: bool
    format: str
    allow_private: bool
    livekit_key: str | None = None
    description: str = ""
    created_at: int
    updated_at: int
    previous_expires_at: int | None = Field(
        None, description="While a rotated secret still signs: until when."
    )


class WebhookCreated(WebhookPublic):
    """A new endpoint, or a rotated secret: ``secret`` is shown here once and never again."""

    secret: str = Field(..., description="`whsec_...`: verify deliveries with it.")


class DeliveryPublic(BaseModel):
    """One event's delivery to the endpoint."""

    id: int
    event_id: str = Field(..., description="The `webhook-id` header of every attempt.")
    event_type: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_at: float
    last_status: int | None = Field(None, description="The receiver's last HTTP status.")
    last_error: str | None = None
    last_attempt_at: float | None = None
    delivered_at: float | None = None
    created_at: int


class DeliveryPage(BaseModel):
    """A page of deliveries, newest first."""

    data: list[DeliveryPublic]
    next_cursor: str | None = None
