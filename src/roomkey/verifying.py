"""The verifier pipeline (docs/architecture.md), in order, each step failing closed.

1–3 and 6 (size, compact form, header, payload syntax) live in :mod:`roomkey.jws`; this module
selects the key from a fixed table (4), checks the signature over the received bytes (5), then
validates registered claims (7) and the application's bindings and revocations (8). Parsing and
signature checking (:meth:`TokenVerifier.verify_signature`) are kept apart from claim validation
(:meth:`TokenVerifier.validate`); the current time is always a parameter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from roomkey import jws
from roomkey.claims import Claims
from roomkey.dialects import DIALECTS, Dialect, detect_dialect, get_dialect
from roomkey.errors import (
    BadSignatureError,
    ConfigurationError,
    DisallowedAlgorithmError,
    InvalidClaimsError,
    LifetimeTooLongError,
    MissingClaimError,
    RevokedTokenError,
    TokenExpiredError,
    TokenNotYetValidError,
    WrongAudienceError,
    WrongIdentityError,
    WrongIssuerError,
    WrongRoomError,
    WrongScopeError,
)
from roomkey.grants import Grant, Scope
from roomkey.keys import Algorithm, Key, KeyRing
from roomkey.revocation import RevocationChecker

DEFAULT_LEEWAY_S = 60
MAX_LEEWAY_S = 300
DEFAULT_MAX_LIFETIME_S = 24 * 60 * 60
UNKNOWN_OR_BAD = "the signature does not verify with a known, active key"


class VerifiedToken(NamedTuple):
    """A token whose signature verified; after :meth:`TokenVerifier.verify`, fully valid."""

    claims: Claims
    dialect: str
    kid: str
    alg: str
    header: dict[str, Any]
    unknown_keys: tuple[str, ...] = ()

    @property
    def grant(self) -> Grant:
        """What the holder may do."""
        return self.claims.grant


class TokenVerifier:
    """Verifies tokens against a :class:`KeyRing`; every failure is a typed ``TokenError``."""

    def __init__(
        self,
        keys: KeyRing,
        *,
        dialects: Iterable[str] | None = None,
        leeway_s: float = DEFAULT_LEEWAY_S,
        max_lifetime_s: float = DEFAULT_MAX_LIFETIME_S,
        max_bytes: int = jws.DEFAULT_MAX_BYTES,
        audience: str | None = None,
        revocations: RevocationChecker | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        if not 0 <= leeway_s <= MAX_LEEWAY_S:
            raise ConfigurationError(f"leeway must be between 0 and {MAX_LEEWAY_S} seconds")
        if max_lifetime_s <= 0 or max_bytes <= 0:
            raise ConfigurationError("max_lifetime_s and max_bytes must be positive")
        self.keys = keys
        names = list(DIALECTS) if dialects is None else list(dialects)
        self.dialects = {d.name: d for d in (get_dialect(n) for n in names)}
        self.leeway_s = leeway_s
        self.max_lifetime_s = max_lifetime_s
        self.max_bytes = max_bytes
        self.audience = audience
        self.revocations = revocations
        self._now = now

    def now(self) -> float:
        """The verifier's current time (its injected clock)."""
        return self._now()

    def verify(
        self,
        token: str | bytes,
        *,
        room: str | None = None,
        identity: str | None = None,
        scope: Scope | str = Scope.ROOM,
        now: float | None = None,
    ) -> VerifiedToken:
        """Run every check. Returns the verified token or raises a ``TokenError`` subclass."""
        moment = self._now() if now is None else now
        verified = self.verify_signature(token, now=moment)
        # validate()'s two steps called directly: one call frame less per token
        self.validate_registered(verified, now=moment)
        self.validate_application(verified, room=room, identity=identity, scope=scope)
        return verified

    # ---- steps 1-6 -----------------------------------------------------------------------

    def verify_signature(self, token: str | bytes, *, now: float | None = None) -> VerifiedToken:
        """Steps 1–6: parse strictly, select the key, check the algorithm and the signature."""
        moment = self._now() if now is None else now
        parsed = jws.parse(token, self.max_bytes)
        header = parsed.header  # checked by jws.parse: alg a str, kid absent or a non-empty str
        dialect = self._dialect_of(parsed.payload)
        key = self._select_key(header.get("kid"), parsed, dialect, moment)
        alg = header["alg"]
        # A dialect signed only asymmetrically never accepts an HMAC key: its secret is one an
        # API client holds, so anyone minting LiveKit tokens could forge a server token.
        if alg != key.alg or (dialect.asymmetric_only and key.alg is Algorithm.HS256):
            raise DisallowedAlgorithmError(
                f"algorithm {alg!r} is not the one bound to the key", alg=alg
            )
        if not key.verify(parsed.signing_input, parsed.signature):
            raise BadSignatureError(UNKNOWN_OR_BAD)
        claims, unknown_keys = dialect.from_wire(parsed.payload)
        # tuple.__new__: built without the Python frame of the named tuple's __new__ or _make
        return tuple.__new__(
            VerifiedToken, (claims, dialect.name, key.kid, key.alg, dict(header), unknown_keys)
        )

    def _dialect_of(self, payload: dict[str, Any]) -> Dialect:
        dialect = detect_dialect(payload)
        if dialect.name not in self.dialects:
            raise InvalidClaimsError(
                f"{dialect.name} tokens are not accepted here", dialect=dialect.name
            )
        return dialect

    def _select_key(
        self, kid: str | None, parsed: jws.ParsedToken, dialect: Dialect, now: float
    ) -> Key:
        kid = kid or dialect.issuer(parsed.payload)
        key = self.keys.get(kid, now) if kid else None
        if key is None:
            # Same outward error as a bad signature: no oracle for which key ids exist.
            raise BadSignatureError(UNKNOWN_OR_BAD)
        return key

    # ---- steps 7-8 -----------------------------------------------------------------------

    def validate(
        self,
        verified: VerifiedToken,
        *,
        room: str | None = None,
        identity: str | None = None,
        scope: Scope | str = Scope.ROOM,
        now: float | None = None,
    ) -> None:
        """Steps 7–8: registered claims, token kind, room and identity binding, revocation."""
        moment = self._now() if now is None else now
        self.validate_registered(verified, now=moment)
        self.validate_application(verified, room=room, identity=identity, scope=scope)

    def validate_registered(self, verified: VerifiedToken, *, now: float | None = None) -> None:
        """Step 7: only the format's claims, ``exp`` required and not past, ``nbf``/``iat`` not
        ahead, iss, aud, sub, jti. Raises a ``TokenError`` subclass."""
        if verified.unknown_keys and self.dialects[verified.dialect].refuses_unknown_claims:
            raise _unknown_claim(verified.dialect, verified.unknown_keys[0])
        claims = verified.claims
        moment = self._now() if now is None else now
        self._check_times(claims, moment)
        self._check_issuer(claims, verified.kid, moment)
        self._check_subject(claims, verified.dialect)

    def validate_application(
        self,
        verified: VerifiedToken,
        *,
        room: str | None = None,
        identity: str | None = None,
        scope: Scope | str = Scope.ROOM,
    ) -> None:
        """Step 8: token kind, exact room and identity binding, then revocation."""
        try:
            wanted = scope if type(scope) is Scope else Scope(scope)
        except ValueError:
            raise ConfigurationError(f"unknown scope {scope!r} (allowed: room, api)") from None
        _check_scope(verified.claims, wanted)
        _check_binding(verified.claims, room, identity)
        self._check_revoked(verified.claims, verified.kid)

    def _check_times(self, claims: Claims, now: float) -> None:
        exp, nbf, iat = claims.expires_at, claims.not_before, claims.issued_at
        if exp is None:
            raise MissingClaimError("the token has no expiry (exp)", claim="exp")
        leeway = self.leeway_s
        if exp <= now - leeway:
            ago = now - exp
            raise TokenExpiredError(
                f"the token expired {human_duration(ago)} ago", expired_at=exp, seconds_ago=int(ago)
            )
        if nbf is not None and nbf > now + leeway:
            raise _not_yet_valid("nbf", nbf, now)
        if iat is not None and iat > now + leeway:
            raise _not_yet_valid("iat", iat, now)
        # Both the remaining and the declared lifetime count: an old long-lived token is refused
        # even near its end, so the maximum is a property of the token, not of the moment.
        remaining = exp - now
        declared = exp - iat if iat is not None else remaining
        longest = self.max_lifetime_s + leeway
        if remaining > longest or declared > longest:
            raise LifetimeTooLongError(
                f"the token lives longer than the maximum of {human_duration(self.max_lifetime_s)}",
                max_lifetime_s=int(self.max_lifetime_s),
            )

    def _check_issuer(self, claims: Claims, kid: str, now: float) -> None:
        # Same clock as the signature check; a key gone since then fails closed rather than
        # silently skipping the issuer binding.
        key = self.keys.get(kid, now)
        if key is None:
            raise BadSignatureError(UNKNOWN_OR_BAD)
        expected = key.issuer
        if expected is not None and claims.api_key != expected:
            raise WrongIssuerError("the token's API key is not the one its signing key serves")
        if claims.audience != self.audience:
            raise WrongAudienceError(
                "the token's audience is not accepted here"
                if claims.audience is not None
                else "the token names no audience",
            )

    def _check_subject(self, claims: Claims, dialect: str) -> None:
        if claims.identity is not None and not claims.identity.isprintable():
            raise InvalidClaimsError("the identity contains control characters", claim="sub")
        if self.dialects[dialect].requires_jti and claims.jti is None:
            raise MissingClaimError("the token has no id (jti)", claim="jti")

    def _check_revoked(self, claims: Claims, kid: str) -> None:
        if self.revocations is None:
            return
        rule = self.revocations(claims, kid)
        if rule is not None:
            raise RevokedTokenError(
                f"the token was revoked ({rule.describe()}) at {_iso(rule.revoked_at)}",
                rule=rule.kind,
                revoked_at=rule.revoked_at,
            )


def _unknown_claim(dialect: str, name: str) -> InvalidClaimsError:
    if name.startswith("grant."):
        what = f"grant field {name[len('grant.') :]!r}"
    else:
        what = f"claim {name!r}"
    return InvalidClaimsError(
        f"{what} is not part of the {dialect} format "
        "(application data goes in 'metadata' or 'attributes')",
        claim=name,
    )


def _not_yet_valid(name: str, moment: int, now: float) -> TokenNotYetValidError:
    wait = moment - now
    return TokenNotYetValidError(
        f"the token is not valid for {human_duration(wait)} more ({name}); "
        "check the clock of the machine that minted it",
        claim=name,
        valid_from=moment,
        seconds_early=int(wait),
    )


def _check_scope(claims: Claims, scope: Scope) -> None:
    if scope not in claims.grant.scope:
        kinds = "/".join(sorted(claims.grant.scope))
        raise WrongScopeError(
            f"this is a {kinds} token; a token of {scope.value} scope is needed",
            expected=scope.value,
        )
    if claims.identity is None and scope is Scope.ROOM:  # Scope.ROOM costs a class lookup
        raise MissingClaimError("a room token must name a participant identity", claim="sub")


def _check_binding(claims: Claims, room: str | None, identity: str | None) -> None:
    if room is not None and claims.room != room:
        raise WrongRoomError(
            "the token is not bound to any room"
            if claims.room is None
            else "the token is for another room",
            expected=room,
        )
    if identity is not None and claims.identity != identity:
        raise WrongIdentityError("the token is for another participant", expected=identity)


def human_duration(seconds: float) -> str:
    """``40 s``, ``3 m``, ``2 h``, ``5 d``: a short, rounded duration."""
    s = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{int(s // size)} {unit}"
    return f"{int(s)} s"


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


__all__ = [
    "DEFAULT_LEEWAY_S",
    "DEFAULT_MAX_LIFETIME_S",
    "MAX_LEEWAY_S",
    "TokenVerifier",
    "VerifiedToken",
    "human_duration",
]
