"""Minting: a fluent :class:`AccessToken` builder and a reusable :class:`TokenMinter`.

Both resolve the role, merge the caller's overrides deeply, check every claim, and write the
token in the chosen dialect. Anything contradictory, misspelt or inexpressible is an error
before a signature is made.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, NamedTuple

from roomkey import jws
from roomkey.claims import (
    Claims,
    check_attributes,
    check_metadata,
    check_nesting,
    check_text,
    new_jti,
)
from roomkey.dialects import Dialect, get_dialect
from roomkey.errors import ConfigurationError, InvalidClaimValueError, InvalidGrantError
from roomkey.grants import Grant, Scope, parse_scope
from roomkey.keys import HmacKey, Key
from roomkey.roles import API_ONLY, CustomRole, Role, merge_overrides, resolve_role

DEFAULT_TTL_S = 15 * 60
DEFAULT_MAX_TTL_S = 24 * 60 * 60
Clock = Callable[[], float]


class MintedToken(NamedTuple):
    """A signed token with the claims it carries."""

    token: str
    claims: Claims
    dialect: str
    kid: str


def ttl_seconds(ttl: timedelta | float | int) -> int:
    """A TTL as whole seconds (at least 1)."""
    seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else ttl
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 1:
        raise InvalidClaimValueError("ttl must be at least one second", field="ttl")
    return int(seconds)


def _api_only(scope: Any) -> bool:
    """True when a requested scope names the API and not rooms."""
    if scope is None:
        return False
    try:
        return parse_scope(scope) == frozenset({Scope.API})
    except InvalidGrantError:
        return False  # merge_overrides reports it


class TokenMinter:
    """Signs tokens with one key in one dialect. Reuse it: it is cheap per token."""

    def __init__(
        self,
        key: Key,
        dialect: str | Dialect = "native",
        *,
        api_key: str | None = None,
        default_ttl_s: int = DEFAULT_TTL_S,
        max_ttl_s: int = DEFAULT_MAX_TTL_S,
        custom_roles: Mapping[str, CustomRole] | None = None,
        now: Clock = time.time,
    ) -> None:
        self.key = key
        self.dialect = get_dialect(dialect)
        if self.dialect.asymmetric_only and key.alg.value == "HS256":
            raise ConfigurationError(
                f"the {self.dialect.name} format is signed with an asymmetric key "
                "(EdDSA, ES256 or RS256), not an HMAC secret"
            )
        if not key.can_sign:
            raise ConfigurationError(f"key {key.kid!r} holds no private key; it cannot sign")
        self.api_key = api_key or key.issuer or key.kid
        if default_ttl_s > max_ttl_s:
            raise ConfigurationError("the default TTL is longer than the maximum TTL")
        self.default_ttl_s = default_ttl_s
        self.max_ttl_s = max_ttl_s
        self.custom_roles = custom_roles or {}
        self._now = now

    def grant_for(
        self, role: Role | CustomRole | str | None, permissions: Mapping[str, Any] | None
    ) -> tuple[str | None, Grant]:
        """The role's name and the grant after merging ``permissions`` over it."""
        if role is None and permissions and _api_only(permissions.get("scope")):
            return None, merge_overrides(API_ONLY, permissions)
        name, base = resolve_role(Role.GUEST if role is None else role, self.custom_roles)
        return name, merge_overrides(base, permissions)

    def mint(
        self,
        *,
        identity: str | None = None,
        room: str | None = None,
        role: Role | CustomRole | str | None = None,
        permissions: Mapping[str, Any] | None = None,
        name: str | None = None,
        metadata: Any = None,
        attributes: Mapping[str, str] | None = None,
        ttl: timedelta | float | int | None = None,
        not_before: int | None = None,
        audience: str | None = None,
        kind: str | None = None,
        room_config: Mapping[str, Any] | None = None,
    ) -> MintedToken:
        """Check every claim and sign. Raises a :class:`RoomkeyError` subclass on bad input."""
        role_name, grant = self.grant_for(role, permissions)
        claims = self._claims(
            grant,
            role_name,
            identity,
            room,
            name,
            metadata,
            attributes,
            ttl,
            not_before,
            audience,
            kind,
            room_config,
        )
        return self.sign(claims)

    def build_claims(
        self,
        *,
        grant: Grant,
        ttl: timedelta | float | int | None = None,
        not_before: int | None = None,
        **fields: Any,
    ) -> Claims:
        """Claims for ``grant`` with times filled in and every field checked."""
        get = fields.get
        return self._claims(
            grant,
            get("role"),
            get("identity"),
            get("room"),
            get("name"),
            get("metadata"),
            get("attributes"),
            ttl,
            not_before,
            get("audience"),
            get("kind"),
            get("room_config"),
        )

    def _claims(  # positional on purpose: mint's hot path (keyword arguments cost more)
        self,
        grant: Grant,
        role: str | None,
        identity: Any,
        room: Any,
        name: Any,
        metadata: Any,
        attributes: Mapping[str, str] | None,
        ttl: timedelta | float | int | None,
        not_before: int | None,
        audience: Any,
        kind: Any,
        room_config: Any,
    ) -> Claims:
        ttl_s = self.default_ttl_s if ttl is None else ttl_seconds(ttl)
        if ttl_s > self.max_ttl_s:
            raise InvalidClaimValueError(
                f"ttl {ttl_s}s is longer than the maximum {self.max_ttl_s}s", field="ttl"
            )
        now_s = self._now()
        now = int(now_s)
        identity = check_text(identity, "identity")
        if identity is None and Scope.ROOM in grant.scope:
            raise InvalidClaimValueError("identity is required for a room token", field="identity")
        if room_config is not None and not isinstance(room_config, Mapping):
            raise InvalidClaimValueError("room_config must be an object", field="room_config")
        if room_config is not None:
            check_nesting(dict(room_config), "room_config")
        # In field order (the order the checks ran in when they were keywords); _make builds
        # the tuple without __new__'s frame.
        return Claims._make(
            (
                self.api_key,
                identity,
                check_text(room, "room"),
                grant,
                now,
                now if not_before is None else int(not_before),
                now + ttl_s,
                new_jti(now_s),
                role,
                None if name is None else check_text(name, "name"),
                None if metadata is None else check_metadata(metadata),
                {} if attributes is None else check_attributes(attributes),
                None if audience is None else check_text(audience, "audience"),
                None if kind is None else check_text(kind, "kind"),
                room_config,
            )
        )

    def sign(self, claims: Claims) -> MintedToken:
        """Write ``claims`` in this minter's dialect and sign them."""
        dialect, key = self.dialect, self.key
        token = jws.encode(dialect.to_wire(claims), key, kid=dialect.kid_header)
        return MintedToken._make((token, claims, dialect.name, key.kid))


class AccessToken:
    """A fluent builder, in the spirit of LiveKit's ``AccessToken``.

    >>> AccessToken("APIkey1", secret).with_identity("alice").with_room("standup") \\
    ...     .with_role(Role.SPEAKER).with_ttl(timedelta(minutes=15)).to_jwt()
    """

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | bytes | None = None,
        *,
        key: Key | None = None,
        dialect: str = "native",
        max_ttl: timedelta | int = DEFAULT_MAX_TTL_S,
        now: Clock = time.time,
    ) -> None:
        if key is None:
            if not api_key or api_secret is None:
                raise ConfigurationError("give api_key and api_secret, or a key")
            key = HmacKey(api_key, api_secret)
        self._key, self._api_key, self._now = key, api_key, now
        self._dialect = dialect
        self._max_ttl_s = ttl_seconds(max_ttl)
        self._fields: dict[str, Any] = {}
        self._permissions: dict[str, Any] = {}
        self._custom: dict[str, CustomRole] = {}

    def _set(self, **values: Any) -> AccessToken:
        self._fields.update(values)
        return self

    def with_identity(self, identity: str) -> AccessToken:
        """The participant's identity (``sub``)."""
        return self._set(identity=identity)

    def with_name(self, name: str) -> AccessToken:
        """The display name."""
        return self._set(name=name)

    def with_room(self, room: str) -> AccessToken:
        """The room the token is bound to."""
        return self._set(room=room)

    def with_role(self, role: Role | CustomRole | str) -> AccessToken:
        """A preset, a custom role, or a preset's name."""
        if isinstance(role, CustomRole):
            self._custom[role.name] = role
        return self._set(role=role)

    def with_permissions(self, **overrides: Any) -> AccessToken:
        """Override permissions over the role (deep merge; unknown names are errors)."""
        sources = overrides.get("sources")
        if isinstance(sources, Mapping) and isinstance(self._permissions.get("sources"), Mapping):
            overrides["sources"] = {**self._permissions["sources"], **sources}
        self._permissions.update(overrides)
        return self

    def with_grant(self, grant: Mapping[str, Any]) -> AccessToken:
        """Same as :meth:`with_permissions`, from a mapping (camelCase aliases accepted)."""
        return self.with_permissions(**dict(grant))

    def with_metadata(self, metadata: Any) -> AccessToken:
        """Any JSON value, at most 5,120 characters as text (see ``claims.check_metadata``)."""
        return self._set(metadata=metadata)

    def with_attributes(self, attributes: Mapping[str, str]) -> AccessToken:
        """A string→string map."""
        return self._set(attributes=dict(attributes))

    def with_ttl(self, ttl: timedelta | int) -> AccessToken:
        """Lifetime (default 15 minutes)."""
        return self._set(ttl=ttl)

    def with_join(self, mode: str) -> AccessToken:
        """``direct`` or ``ask`` (wait in the lobby)."""
        return self.with_permissions(join=mode)

    def with_scope(self, *scope: str) -> AccessToken:
        """``room``, ``api`` or both."""
        return self.with_permissions(scope=list(scope))

    def with_dialect(self, dialect: str) -> AccessToken:
        """``native`` (default), ``livekit``, ``videosdk`` or ``huddle01``."""
        self._dialect = dialect
        return self

    def with_audience(self, audience: str) -> AccessToken:
        """``aud`` (native format only)."""
        return self._set(audience=audience)

    def with_kind(self, kind: str) -> AccessToken:
        """LiveKit's participant kind."""
        return self._set(kind=kind)

    def with_room_config(self, config: Mapping[str, Any]) -> AccessToken:
        """LiveKit's room configuration."""
        return self._set(room_config=dict(config))

    def minter(self) -> TokenMinter:
        """The :class:`TokenMinter` this builder signs with."""
        return TokenMinter(
            self._key,
            self._dialect,
            api_key=self._api_key,
            max_ttl_s=self._max_ttl_s,
            default_ttl_s=min(DEFAULT_TTL_S, self._max_ttl_s),
            custom_roles=self._custom,
            now=self._now,
        )

    def mint(self) -> MintedToken:
        """Sign, returning the token with its claims."""
        return self.minter().mint(permissions=self._permissions or None, **self._fields)

    def to_jwt(self) -> str:
        """Sign and return the compact token."""
        return self.mint().token


__all__ = [
    "DEFAULT_MAX_TTL_S",
    "DEFAULT_TTL_S",
    "AccessToken",
    "MintedToken",
    "TokenMinter",
    "ttl_seconds",
]
