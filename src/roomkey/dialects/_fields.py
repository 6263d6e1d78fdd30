"""Typed readers for payload fields, shared by the dialects.

Every reader raises :class:`InvalidClaimsError` (or :class:`MissingClaimError`) naming the
field, so a malformed claim is reported precisely and never coerced.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from roomkey.claims import Claims
from roomkey.errors import InvalidClaimsError, MissingClaimError, UnsupportedByDialectError


class WireRead(NamedTuple):
    """What a dialect read from a payload: the claims, and keys it did not recognise.

    A named tuple: one is built per verified token, and a frozen dataclass costs more to build.
    """

    claims: Claims
    unknown_keys: tuple[str, ...] = ()


def unknown(mapping: Mapping[str, Any], known: Iterable[str], prefix: str = "") -> list[str]:
    """Dotted names of keys in ``mapping`` that are not in ``known``."""
    known_set = known if isinstance(known, frozenset) else frozenset(known)
    return [f"{prefix}{k}" for k in mapping if k not in known_set]


def opt_str(payload: Mapping[str, Any], key: str) -> str | None:
    """A string claim, or None when absent or empty."""
    value = payload.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidClaimsError(f"claim {key!r} must be a string", claim=key)
    return value


def req_str(payload: Mapping[str, Any], key: str) -> str:
    """A non-empty string claim."""
    value = opt_str(payload, key)
    if value is None:
        raise MissingClaimError(f"claim {key!r} is required", claim=key)
    return value


def opt_time(payload: Mapping[str, Any], key: str) -> int | None:
    """A NumericDate: a finite JSON number (not a string, not a boolean), as whole seconds."""
    value = payload.get(key)
    if value is None:
        if key in payload:
            raise InvalidClaimsError(f"claim {key!r} must be a number, not null", claim=key)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidClaimsError(f"claim {key!r} must be a number of seconds", claim=key)
    if abs(value) > 2**53:
        raise InvalidClaimsError(f"claim {key!r} is out of range", claim=key)
    return math.floor(value)


def opt_bool(mapping: Mapping[str, Any], key: str, default: bool, where: str = "") -> bool:
    """A boolean grant flag, or ``default`` when absent."""
    value = mapping.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidClaimsError(f"grant {where}{key!r} must be true or false", claim=where + key)
    return value


def opt_map(payload: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    """A JSON object claim, or None when absent."""
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidClaimsError(f"claim {key!r} must be an object", claim=key)
    return value


def str_map(payload: Mapping[str, Any], key: str) -> dict[str, str]:
    """A string→string map claim (empty when absent)."""
    value = opt_map(payload, key) or {}
    if not all(isinstance(v, str) for v in value.values()):
        raise InvalidClaimsError(f"claim {key!r} must map strings to strings", claim=key)
    return value


def str_list(payload: Mapping[str, Any], key: str) -> list[str] | None:
    """A list-of-strings claim, or None when absent."""
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidClaimsError(f"claim {key!r} must be a list of strings", claim=key)
    return value


def refuse(
    dialect: str, field: str, why: str, *, what: str | None = None
) -> UnsupportedByDialectError:
    """The error for a grant the dialect cannot carry (never a silent drop).

    ``field`` is the canonical field name (``details.field``); ``what`` says what of it cannot be
    carried, when that is more than the field itself (``"join=ask"``).
    """
    return UnsupportedByDialectError(
        f"the {dialect} format cannot express {what or field}: {why}", dialect=dialect, field=field
    )


def registered(claims: Claims, payload: dict[str, Any], *, nbf: bool = True) -> dict[str, Any]:
    """Add ``iat``, ``nbf``, ``exp`` and ``jti`` (when set) to ``payload``."""
    if claims.issued_at is not None:
        payload["iat"] = claims.issued_at
    if nbf and claims.not_before is not None:
        payload["nbf"] = claims.not_before
    if claims.expires_at is not None:
        payload["exp"] = claims.expires_at
    if claims.jti is not None:
        payload["jti"] = claims.jti
    return payload


# ---- one-pass readers for the common, well-typed case ----------------------------------------
# Each returns None (or _BAD) when anything is unusual; the caller then falls back to the
# per-field readers above, which accept exactly the same inputs and give the precise error.

_MAX_TIME = 2**53
_BAD = object()


def quick_texts(mapping: Mapping[str, Any], keys: tuple[str, ...]) -> list[str | None] | None:
    """Optional string claims (empty → None), or None if one is not a string."""
    get = mapping.get
    out: list[str | None] = []
    for key in keys:
        text = get(key)
        if text is not None and type(text) is not str:
            return None
        out.append(text or None)
    return out


def quick_times(payload: Mapping[str, Any]) -> list[int | None] | None:
    """``iat``, ``nbf``, ``exp`` when each is absent or an in-range integer, else None."""
    iat, nbf, exp = payload.get("iat"), payload.get("nbf"), payload.get("exp")
    if type(iat) is int and type(nbf) is int and type(exp) is int:  # all three, as minted
        in_range = -_MAX_TIME <= iat <= _MAX_TIME and -_MAX_TIME <= nbf <= _MAX_TIME
        return [iat, nbf, exp] if in_range and -_MAX_TIME <= exp <= _MAX_TIME else None
    out: list[int | None] = []
    for key in ("iat", "nbf", "exp"):
        moment = payload.get(key)
        if moment is None:
            if key in payload:
                return None
        elif type(moment) is not int or not -_MAX_TIME <= moment <= _MAX_TIME:
            return None
        out.append(moment)
    return out


def quick_str_map(value: Any) -> Any:
    """A string→string map ({} when absent), or ``_BAD``."""
    if value is None:
        return {}
    if type(value) is not dict or any(type(v) is not str for v in value.values()):
        return _BAD
    return value


def is_bad(value: Any) -> bool:
    """True for the marker ``quick_str_map`` returns on a type it does not take."""
    return value is _BAD
