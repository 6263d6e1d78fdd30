"""The dashboard's inspector: every check of the server's verifier on a pasted token, in words.

The verdict is :meth:`TokenService.verify`'s own (the verify endpoint's answer, bound to the
signed-in project). Beside it, the same verifier's steps run one by one, so that each gets its
pass or fail and the reason: the token's parts, decoded without trusting them
(:func:`roomkey.inspecting.inspect_token`), its times relative to now, and its warnings.
Nothing here stores or logs the token.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from roomkey import jws
from roomkey.dialects import detect_dialect
from roomkey.errors import (
    BadSignatureError,
    RevokedTokenError,
    RoomkeyError,
    TokenExpiredError,
    TokenNotYetValidError,
    WrongProjectError,
)
from roomkey.inspecting import inspect_token
from roomkey.service.dashboard.words import duration_words, grant_words, moment_words
from roomkey.service.keys import KeyService
from roomkey.service.tokens import TokenService
from roomkey.verifying import TokenVerifier, VerifiedToken

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass(frozen=True, slots=True)
class Step:
    """One check of the verifier: its name, how it went, and why, in words."""

    name: str
    status: str
    reason: str = ""
    code: str | None = None
    # a moment the reason names (an expiry, a revocation), for showing in local time
    at: float | None = None


@dataclass(frozen=True, slots=True)
class Moment:
    """A time the token names, relative to now and as an epoch (for local time)."""

    label: str
    epoch: float
    relative: str


@dataclass
class Explanation:
    """What the inspector shows for one token."""

    valid: bool
    verdict: str
    code: str | None
    dialect: str | None = None
    header: str | None = None
    payload: str | None = None
    grant: list[str] = field(default_factory=list)
    moments: list[Moment] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    error: str | None = None


@dataclass
class _Run:
    """The state the steps share while they run."""

    token: str
    project: str
    room: str | None
    identity: str | None
    scope: str
    now: float
    verified: VerifiedToken | None = None
    steps: list[Step] = field(default_factory=list)


class TokenExplainer:
    """Explains tokens for one server (see the module docstring)."""

    def __init__(self, tokens: TokenService, keys: KeyService) -> None:
        self.tokens, self.keys = tokens, keys

    @property
    def verifier(self) -> TokenVerifier:
        """The server's own verifier (keys, leeway, revocations, clock)."""
        return self.tokens.verifier

    async def explain(
        self,
        token: str,
        *,
        project: str,
        room: str | None = None,
        identity: str | None = None,
        scope: str = "room",
    ) -> Explanation:
        """Every check on ``token`` for ``project``; never raises for a bad token."""
        token = token.strip()
        now = self.verifier.now()
        outcome = self.tokens.verify(
            token, project=project, room=room, identity=identity, scope=scope
        )
        report = inspect_token(token, now=now)
        explanation = Explanation(
            valid=outcome.valid,
            verdict="the token is valid" if outcome.valid else "the token is refused",
            code=outcome.error.code if outcome.error else None,
            dialect=report.dialect,
            header=_pretty(report.header),
            payload=_pretty(report.payload),
            grant=grant_words(report.claims.grant) if report.claims else [],
            moments=_moments(report.claims, now) if report.claims else [],
            warnings=list(report.warnings),
            error=report.error,
        )
        run = _Run(token, project, room, identity, scope, now)
        await self._run_steps(run)
        explanation.steps = run.steps
        failed = next((s for s in run.steps if s.status == FAILED), None)
        if not outcome.valid:
            explanation.verdict = failed.reason if failed else _said(outcome.error)
        return explanation

    async def _run_steps(self, run: _Run) -> None:
        steps: list[tuple[str, Callable[[_Run], Any]]] = [
            ("size and compact form", self._form),
            ("key and signature", self._signature),
            ("project", self._project),
            ("expiry and registered claims", self._registered),
            ("kind, room and identity", self._binding),
            ("revocation", self._revocation),
            ("room state", self._room_state),
        ]
        for name, step in steps:
            if any(s.status == FAILED for s in run.steps):
                run.steps.append(Step(name, SKIPPED, "not checked: an earlier check failed"))
                continue
            try:
                result = step(run)
                if inspect.isawaitable(result):
                    result = await result
                run.steps.append(Step(name, PASSED, str(result)))
            except _Failed as failure:
                run.steps.append(failure.step(name))
            except RoomkeyError as exc:
                run.steps.append(Step(name, FAILED, _reason(exc, run.now), exc.code, _at(exc)))

    # ---- the steps -----------------------------------------------------------------------

    def _form(self, run: _Run) -> str:
        parsed = jws.parse(run.token, self.verifier.max_bytes)
        alg = parsed.header.get("alg")
        return f"{len(run.token)} bytes, three strict base64url parts, header alg {alg}"

    async def _signature(self, run: _Run) -> str:
        try:
            run.verified = self.verifier.verify_signature(run.token, now=run.now)
        except BadSignatureError as exc:
            raise _Failed(await self._why_bad_signature(run), exc.code) from exc
        v = run.verified
        return f"signed with {v.alg} by key {v.kid!r}; the signature matches"

    async def _why_bad_signature(self, run: _Run) -> str:
        """Why no key verified it, in the signed-in project's terms (its own keys only)."""
        parsed = jws.parse(run.token, self.verifier.max_bytes)
        kid = parsed.header.get("kid") or detect_dialect(parsed.payload).issuer(parsed.payload)
        if not kid:
            return "the token names no key (no kid, iss or apikey)"
        try:
            record = await self.keys.get(run.project, str(kid))
        except RoomkeyError:
            return f"no key {kid!r} in this project: signed by another project or server"
        if record.status != "active":
            return f"signed with a disabled key {kid!r}: disabled keys verify nothing"
        if record.expires_at is not None and record.expires_at <= run.now:
            ended = moment_words(record.expires_at, run.now)
            return f"signed with key {kid!r}, whose rotation overlap ended {ended}"
        return (
            f"the signature does not match key {kid!r}: the token was altered after signing, "
            "or signed with another secret"
        )

    def _project(self, run: _Run) -> str:
        assert run.verified is not None
        owner = self.tokens.ctx.state.project_of_key(run.verified.kid)
        if owner is None or owner.record.id != run.project:
            raise WrongProjectError("the token belongs to another project than yours")
        return f"key {run.verified.kid!r} belongs to this project ({run.project})"

    def _registered(self, run: _Run) -> str:
        assert run.verified is not None
        self.verifier.validate_registered(run.verified, now=run.now)
        claims = run.verified.claims
        parts = []
        if claims.expires_at is not None:
            parts.append(f"expires {moment_words(claims.expires_at, run.now)}")
        if claims.issued_at is not None:
            parts.append(f"issued {moment_words(claims.issued_at, run.now)}")
        parts.append("issuer, audience, subject and id acceptable")
        return "; ".join(parts)

    def _binding(self, run: _Run) -> str:
        assert run.verified is not None
        unrevoked = TokenVerifier(
            self.verifier.keys,
            leeway_s=self.verifier.leeway_s,
            max_lifetime_s=self.verifier.max_lifetime_s,
            max_bytes=self.verifier.max_bytes,
            now=self.verifier.now,
        )
        unrevoked.validate_application(
            run.verified, room=run.room, identity=run.identity, scope=run.scope
        )
        claims = run.verified.claims
        bound = f"room {claims.room!r}" if claims.room else "no room (every room of the project)"
        return f"a {run.scope} token for {claims.identity or 'no identity'}, bound to {bound}"

    def _revocation(self, run: _Run) -> str:
        assert run.verified is not None
        self.verifier.validate_application(
            run.verified, room=run.room, identity=run.identity, scope=run.scope
        )
        return "no revocation rule of this project matches it"

    def _room_state(self, run: _Run) -> str:
        assert run.verified is not None
        room = run.verified.claims.room
        if run.scope != "room" or room is None:
            return "no room to check"
        self.tokens.rooms.check_for_verify(run.project, room)
        return f"room {room!r} is usable"


class _Failed(Exception):
    """A step's failure with a reason better than the exception's own message."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.reason, self.code = reason, code

    def step(self, name: str) -> Step:
        return Step(name, FAILED, self.reason, self.code)


def _reason(exc: RoomkeyError, now: float) -> str:
    """The failure in words, with times relative to now."""
    if isinstance(exc, TokenExpiredError):
        expired = exc.details.get("expired_at")
        if isinstance(expired, int | float):
            return f"expired {duration_words(now - expired)} ago"
    if isinstance(exc, TokenNotYetValidError):
        starts = exc.details.get("valid_from")
        if isinstance(starts, int | float):
            wait = duration_words(starts - now)
            return f"not valid for {wait} more: check the clock of the machine that minted it"
    if isinstance(exc, RevokedTokenError):
        return exc.message.replace("the token was revoked", "revoked")
    return exc.message


def _at(exc: RoomkeyError) -> float | None:
    for name in ("revoked_at", "expired_at", "valid_from"):
        value = exc.details.get(name)
        if isinstance(value, int | float):
            return float(value)
    return None


def _said(error: RoomkeyError | None) -> str:
    return error.message if error is not None else "the token is refused"


def _moments(claims: Any, now: float) -> list[Moment]:
    named = (
        ("issued", claims.issued_at),
        ("not before", claims.not_before),
        ("expires", claims.expires_at),
    )
    return [Moment(label, float(t), moment_words(t, now)) for label, t in named if t is not None]


def _pretty(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, indent=2, ensure_ascii=False)
