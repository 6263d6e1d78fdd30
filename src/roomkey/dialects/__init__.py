"""Wire formats: one converter each way per format, and detection of a payload's format."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roomkey.dialects._base import Dialect
from roomkey.dialects._fields import WireRead
from roomkey.dialects.huddle01 import DIALECT as HUDDLE01
from roomkey.dialects.livekit import DIALECT as LIVEKIT
from roomkey.dialects.native import DIALECT as NATIVE
from roomkey.dialects.videosdk import DIALECT as VIDEOSDK
from roomkey.errors import ConfigurationError, InvalidClaimsError

DIALECTS: Mapping[str, Dialect] = {d.name: d for d in (NATIVE, LIVEKIT, VIDEOSDK, HUDDLE01)}
# Detection order: the most specific markers first; LiveKit (plain iss) last.
_DETECTION = (NATIVE, VIDEOSDK, HUDDLE01, LIVEKIT)


def get_dialect(name: str | Dialect) -> Dialect:
    """The dialect named ``name``; raises :class:`ConfigurationError` for an unknown name."""
    if not isinstance(name, str):
        return name
    try:
        return DIALECTS[name.lower()]
    except KeyError:
        known = ", ".join(DIALECTS)
        raise ConfigurationError(f"unknown dialect {name!r} (known: {known})") from None


def detect_dialect(payload: Mapping[str, Any]) -> Dialect:
    """The dialect a payload is written in; raises :class:`InvalidClaimsError` if none fits."""
    for dialect in _DETECTION:
        if dialect.matches(payload):
            return dialect
    raise InvalidClaimsError("the payload matches no known token format (no iss or apikey)")


__all__ = [
    "DIALECTS",
    "HUDDLE01",
    "LIVEKIT",
    "NATIVE",
    "VIDEOSDK",
    "Dialect",
    "WireRead",
    "detect_dialect",
    "get_dialect",
]
