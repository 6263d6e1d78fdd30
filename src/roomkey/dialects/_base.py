"""What every dialect provides: one converter each way, and how to recognise its payloads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from roomkey.claims import Claims
from roomkey.dialects._fields import WireRead


class Dialect(Protocol):
    """A wire format for :class:`Claims`."""

    name: str
    # whether minted tokens carry ``kid`` in the header
    kid_header: bool
    # whether a token must carry a jti
    requires_jti: bool
    # whether the format requires an asymmetric signing key
    asymmetric_only: bool
    # whether a claim outside the format is refused (roomkey's own format) rather than reported
    refuses_unknown_claims: bool

    def to_wire(self, claims: Claims) -> dict[str, Any]:
        """The payload for ``claims``; raises UnsupportedByDialectError for what it can't carry."""
        ...

    def from_wire(self, payload: Mapping[str, Any]) -> WireRead:
        """Claims from a payload; raises InvalidClaimsError / MissingClaimError on bad fields."""
        ...

    def issuer(self, payload: Mapping[str, Any]) -> str | None:
        """The API key the payload names (for key selection when the header has no ``kid``)."""
        ...

    def matches(self, payload: Mapping[str, Any]) -> bool:
        """True when the payload looks like this dialect (for detection)."""
        ...
