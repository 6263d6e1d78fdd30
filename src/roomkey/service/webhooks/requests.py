"""What is sent for one delivery: the body and headers, in the endpoint's format.

Standard format: the event's JSON body, ``content-type: application/json`` and the three
Standard Webhooks headers, signed at send time (so a retry carries a fresh timestamp and the
secrets in force, and the replay window applies to each attempt). LiveKit format: see
:mod:`.livekit`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import orjson

from roomkey.errors import ConfigurationError
from roomkey.keys import HmacKey
from roomkey.service.state import ServerState
from roomkey.service.webhooks.livekit import CONTENT_TYPE, livekit_authorization, livekit_body
from roomkey.store import ClaimedDelivery, WebhookEndpointRecord
from roomkey.webhooks import sign_headers

USER_AGENT = "roomkey-webhooks/1"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A request body and its headers."""

    body: bytes
    headers: dict[str, str]


class RequestBuilder:
    """Builds the request of a claimed delivery (secrets decrypted as it is sent)."""

    def __init__(
        self,
        state: ServerState,
        signing_secrets: Callable[[WebhookEndpointRecord, float], list[str]],
    ) -> None:
        self._state = state
        self._signing_secrets = signing_secrets

    def __call__(self, claimed: ClaimedDelivery, now: float) -> Outgoing:
        """The request for ``claimed`` at ``now``.

        Raises ConfigurationError: a LiveKit-format endpoint whose API key is gone.
        """
        if claimed.endpoint.format == "livekit":
            return self._livekit(claimed, int(now))
        body = orjson.dumps(claimed.event.payload)
        secrets = self._signing_secrets(claimed.endpoint, now)
        headers = sign_headers(secrets, claimed.event.id, int(now), body)
        return Outgoing(body, {**headers, **_common("application/json")})

    def _livekit(self, claimed: ClaimedDelivery, now: int) -> Outgoing:
        kid = claimed.endpoint.livekit_key or ""
        key = self._state.keyring.get(kid, now)
        if not isinstance(key, HmacKey):
            raise ConfigurationError(
                f"the endpoint's LiveKit API key {kid!r} is not active; update livekit_key"
            )
        body = livekit_body(claimed.event)
        headers = {"authorization": livekit_authorization(key, body, now)}
        return Outgoing(body, {**headers, **_common(CONTENT_TYPE)})


def _common(content_type: str) -> dict[str, str]:
    return {"content-type": content_type, "user-agent": USER_AGENT, "accept-encoding": "identity"}


__all__ = ["Outgoing", "RequestBuilder"]
