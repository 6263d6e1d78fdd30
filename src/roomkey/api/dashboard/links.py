"""``POST /v1/dashboard/links``: a one-time sign-in link for the dashboard (``roomkey dashboard``).

The caller's server token is checked like any other; the link signs in with exactly its
capabilities, for no longer than the token itself lives. The answer holds the link's path, whose
code is in the fragment (``#link=...``): a browser never sends a fragment to a server, so the
code reaches no access log; the sign-in page's script posts it once, and it is spent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from roomkey.api.body import body_doc, json_body
from roomkey.api.dashboard.web import SIGN_IN, dashboard_of
from roomkey.api.deps import authorization_header
from roomkey.api.schemas import WHOLE, Strict
from roomkey.service.dashboard import LINK_TTL_S, SESSION_MAX_TTL_S

router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"])


class LinkCreate(Strict):
    """How long the session the link opens may last."""

    ttl_s: Annotated[int, Field(ge=60, le=SESSION_MAX_TTL_S), WHOLE] | None = Field(
        None,
        description="The session's lifetime; default and cap: what the caller's token has left.",
    )


class LinkPublic(BaseModel):
    """A one-time sign-in link."""

    path: str = Field(description="The sign-in page with the one-time code in its fragment.")
    expires_at: int = Field(description=f"The link works once, for {LINK_TTL_S} s at most.")


@router.post(
    "/links",
    response_model=LinkPublic,
    status_code=201,
    operation_id="create_dashboard_link",
    openapi_extra=body_doc(LinkCreate),
)
async def create_dashboard_link(
    body: Annotated[LinkCreate, Depends(json_body(LinkCreate))], request: Request
) -> LinkPublic:
    """A one-time link that signs the dashboard in with the caller's capabilities."""
    header = authorization_header(request.scope["headers"])
    link = await dashboard_of(request).sessions.create_link(header, body.ttl_s)
    return LinkPublic(path=f"{SIGN_IN}#link={link.code}", expires_at=link.expires_at)
