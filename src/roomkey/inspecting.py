"""Inspection: decode and explain a token without trusting it, and, given keys, list each check.

Nothing here is a verification: without keys, every statement is about what the token *says*.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from roomkey import jws
from roomkey._codec import b64url_decode, json_loads_object
from roomkey.claims import Claims
from roomkey.dialects import detect_dialect
from roomkey.errors import RoomkeyError
from roomkey.grants import Scope
from roomkey.keys import SUPPORTED_ALGORITHMS, KeyRing
from roomkey.verifying import TokenVerifier, VerifiedToken, human_duration

LONG_LIFETIME_S = 24 * 60 * 60
MAX_INSPECT_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Check:
    """One step of the verifier pipeline and how it went."""

    step: str
    status: str  # "passed", "failed" or "skipped"
    detail: str = ""
    code: str | None = None


@dataclass
class Inspection:
    """What a token says, what looks wrong, and (with keys) which checks pass."""

    header: dict[str, Any] | None = None
    payload: dict[str, Any] | None = None
    dialect: str | None = None
    claims: Claims | None = None
    times: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    error: str | None = None

    @property
    def valid(self) -> bool | None:
        """True/False once checked with keys; None when only decoded."""
        if not self.checks:
            return None
        return all(c.status == "passed" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "dialect": self.dialect,
            "header": self.header,
            "payload": self.payload,
            "claims": self.claims.to_dict() if self.claims else None,
            "times": self.times,
            "warnings": self.warnings,
            "checks": [
                {"step": c.step, "status": c.status, "detail": c.detail, "code": c.code}
                for c in self.checks
            ],
            "valid": self.valid,
            "error": self.error,
        }


def inspect_token(
    token: str,
    *,
    keys: KeyRing | None = None,
    room: str | None = None,
    identity: str | None = None,
    scope: str = "room",
    leeway_s: float = 60,
    now: float | None = None,
    verifier: TokenVerifier | None = None,
) -> Inspection:
    """Decode and explain ``token``; with ``keys`` (or a ``verifier``) run every check too."""
    moment = time.time() if now is None else now
    report = Inspection()
    token = token.strip()
    if len(token) > MAX_INSPECT_BYTES:
        report.error = f"the token is {len(token)} bytes; inspection stops at {MAX_INSPECT_BYTES}"
        return report
    _decode_leniently(token, report)
    if report.payload is not None:
        _explain(report, moment)
    if keys is not None or verifier is not None:
        checker = verifier or TokenVerifier(keys or KeyRing(), leeway_s=leeway_s)
        report.checks = _run_checks(checker, token, room, identity, scope, moment)
    return report


def _decode_leniently(token: str, report: Inspection) -> None:
    parts = token.split(".")
    if len(parts) != 3:
        report.error = f"not a compact JWT: expected 3 dot-separated parts, found {len(parts)}"
        return
    decoded = []
    for name, part in zip(("header", "payload"), parts[:2], strict=True):
        raw = _lenient_b64(part.encode(), name, report)
        value = _lenient_json(raw, name, report) if raw is not None else None
        decoded.append(value)
    report.header, report.payload = decoded
    if report.header is not None:
        _header_warnings(report.header, report)


def _lenient_b64(part: bytes, name: str, report: Inspection) -> bytes | None:
    try:
        return b64url_decode(part, name)
    except RoomkeyError as exc:
        report.warnings.append(f"{exc.message}; strict verifiers reject it")
    try:
        return base64.urlsafe_b64decode(part.rstrip(b"=") + b"=" * (-len(part.rstrip(b"=")) % 4))
    except (binascii.Error, ValueError):
        report.error = f"the {name} is not base64url at all"
        return None


def _lenient_json(raw: bytes, name: str, report: Inspection) -> dict[str, Any] | None:
    try:
        return json_loads_object(raw, name)
    except RoomkeyError as exc:
        report.warnings.append(f"{exc.message}; strict verifiers reject it")
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        report.error = f"the {name} is not JSON"
        return None
    if not isinstance(value, dict):
        report.error = f"the {name} is not a JSON object"
        return None
    return value


def _header_warnings(header: dict[str, Any], report: Inspection) -> None:
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in SUPPORTED_ALGORITHMS:
        report.warnings.append(
            f"alg {alg!r} is outside the safe set ({', '.join(sorted(SUPPORTED_ALGORITHMS))})"
        )
    for name in sorted(jws.FORBIDDEN_HEADERS.intersection(header)):
        report.warnings.append(f"header parameter {name!r} is never honoured and is refused")


def _explain(report: Inspection, now: float) -> None:
    assert report.payload is not None
    try:
        dialect = detect_dialect(report.payload)
        read = dialect.from_wire(report.payload)
    except RoomkeyError as exc:
        report.error = report.error or exc.message  # the first problem found is the one shown
        return
    report.dialect, report.claims = dialect.name, read.claims
    fate = "refused" if dialect.refuses_unknown_claims else "ignored"
    for key in read.unknown_keys:
        report.warnings.append(f"unknown claim {key} is {fate} by {dialect.name} verifiers")
    _describe_times(read.claims, report, now)
    if Scope.ROOM in read.claims.grant.scope:
        if read.claims.identity is None:
            report.warnings.append("a room token without a participant identity")
        if read.claims.room is None:
            report.warnings.append("not bound to a room: it opens every room of the project")


def _describe_times(claims: Claims, report: Inspection, now: float) -> None:
    exp, nbf, iat = claims.expires_at, claims.not_before, claims.issued_at
    if iat is not None:
        report.times["issued"] = _relative(iat, now, "issued in", "issued")
    if nbf is not None and nbf > now:
        report.times["not_before"] = (
            f"not valid for {human_duration(nbf - now)} more — check the clock"
        )
    if exp is None:
        report.warnings.append("no exp: the token never expires (roomkey refuses it)")
        return
    report.times["expires"] = (
        f"expires in {human_duration(exp - now)}"
        if exp > now
        else f"expired {human_duration(now - exp)} ago"
    )
    start = iat if iat is not None else (nbf if nbf is not None else now)
    if exp - start > LONG_LIFETIME_S:
        report.warnings.append(f"lifetime of {human_duration(exp - start)} is over 24 h")


def _relative(moment: float, now: float, future: str, past: str) -> str:
    if moment > now:
        return f"{future} {human_duration(moment - now)} (in the future)"
    return f"{past} {human_duration(now - moment)} ago"


_STEPS = (
    "size, compact form and header",
    "key selection and signature",
    "registered claims",
    "room, identity, scope and revocation",
)


def _run_checks(
    verifier: TokenVerifier,
    token: str,
    room: str | None,
    identity: str | None,
    scope: str,
    now: float,
) -> list[Check]:
    checks: list[Check] = []
    state: dict[str, VerifiedToken] = {}

    def signature() -> str:
        state["v"] = verifier.verify_signature(token, now=now)
        return f"{state['v'].alg} with key {state['v'].kid!r}"

    def registered() -> str:
        verifier.validate_registered(state["v"], now=now)
        return "exp, nbf, iat, iss, aud, sub and jti are acceptable"

    def application() -> str:
        verifier.validate_application(state["v"], room=room, identity=identity, scope=scope)
        return "bound as requested and not revoked"

    steps: list[Callable[[], str]] = [
        lambda: (jws.parse(token, verifier.max_bytes), "well-formed")[1],
        signature,
        registered,
        application,
    ]
    failed = False
    for name, step in zip(_STEPS, steps, strict=True):
        if failed:
            checks.append(Check(name, "skipped"))
            continue
        try:
            checks.append(Check(name, "passed", step()))
        except RoomkeyError as exc:
            failed = True
            checks.append(Check(name, "failed", exc.message, exc.code))
    return checks


__all__ = ["Check", "Inspection", "inspect_token"]
