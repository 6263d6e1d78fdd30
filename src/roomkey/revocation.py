"""Revocation: a pluggable check, and an in-memory implementation with O(1) lookups.

A rule by identity, room or key covers the tokens issued at or before the moment it was made,
so a fresh token issued afterwards is not caught by an old rule. A rule can be dropped once no
token it covers can still be valid (``expires_at``), which keeps memory bounded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from roomkey.claims import Claims


@dataclass(frozen=True, slots=True)
class Revocation:
    """One revocation rule. ``kind`` is jti, identity, room, key or issued_before."""

    kind: str
    value: str | float
    revoked_at: float
    # room an identity rule is limited to (None: every room)
    room: str | None = None
    # after this, no token the rule covers can still be valid, so it may be forgotten
    expires_at: float | None = None
    reason: str | None = None
    id: str | None = None

    def describe(self) -> str:
        """A short phrase for error messages ("identity 'alice' in room 'r1'")."""
        where = f" in room {self.room!r}" if self.room else ""
        if self.kind == "issued_before":
            moment = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(self.value)))
            return f"every token issued before {moment}"
        return f"{self.kind} {self.value!r}{where}"


class RevocationChecker(Protocol):
    """Called by the verifier after the signature and claims pass; returns a match or None."""

    def __call__(self, claims: Claims, kid: str) -> Revocation | None: ...


class InMemoryRevocations:
    """Revocations held in dictionaries: the check costs the same for 0 or 1,000,000 rules."""

    def __init__(self) -> None:
        self._jti: dict[str, Revocation] = {}
        # The same jtis as ``_jti``'s keys. A set probes neighbouring slots of one table where a
        # dict reads an index table and then an entry table: with 1,000,000 rules, a token that
        # is not revoked (the usual answer) costs one cache miss instead of several (measured:
        # 0.28 against 0.53 µs per lookup of a fresh string).
        self._jti_ids: set[str] = set()
        self._identity: dict[tuple[str, str | None], Revocation] = {}
        self._room: dict[str, Revocation] = {}
        self._key: dict[str, Revocation] = {}
        self._before: Revocation | None = None

    def add(self, rule: Revocation) -> Revocation:
        """Add a rule (replacing one with the same target)."""
        if rule.kind == "jti":
            self._jti[str(rule.value)] = rule
            self._jti_ids.add(str(rule.value))
        elif rule.kind == "identity":
            self._identity[(str(rule.value), rule.room)] = rule
        elif rule.kind == "room":
            self._room[str(rule.value)] = rule
        elif rule.kind == "key":
            self._key[str(rule.value)] = rule
        elif rule.kind == "issued_before":
            if self._before is None or float(rule.value) >= float(self._before.value):
                self._before = rule
        else:
            raise ValueError(f"unknown revocation kind {rule.kind!r}")
        return rule

    def revoke_jti(
        self,
        jti: str,
        *,
        expires_at: float | None = None,
        now: float | None = None,
        reason: str | None = None,
    ) -> Revocation:
        """Revoke one token by its id."""
        return self.add(Revocation("jti", jti, _now(now), expires_at=expires_at, reason=reason))

    def revoke_identity(
        self,
        identity: str,
        room: str | None = None,
        *,
        now: float | None = None,
        expires_at: float | None = None,
        reason: str | None = None,
    ) -> Revocation:
        """Revoke every token issued so far to ``identity`` (optionally only for ``room``)."""
        rule = Revocation("identity", identity, _now(now), room, expires_at, reason)
        return self.add(rule)

    def revoke_room(
        self,
        room: str,
        *,
        now: float | None = None,
        expires_at: float | None = None,
        reason: str | None = None,
    ) -> Revocation:
        """Revoke every token issued so far for ``room``."""
        return self.add(Revocation("room", room, _now(now), None, expires_at, reason))

    def revoke_key(
        self,
        kid: str,
        *,
        now: float | None = None,
        expires_at: float | None = None,
        reason: str | None = None,
    ) -> Revocation:
        """Revoke every token signed so far with key ``kid``."""
        return self.add(Revocation("key", kid, _now(now), None, expires_at, reason))

    def revoke_issued_before(
        self,
        moment: float,
        *,
        now: float | None = None,
        expires_at: float | None = None,
        reason: str | None = None,
    ) -> Revocation:
        """Revoke every token issued before ``moment`` (epoch seconds)."""
        return self.add(Revocation("issued_before", moment, _now(now), None, expires_at, reason))

    def holds(self, rule: Revocation) -> bool:
        """Whether ``rule`` itself (not merely another rule on its target) is in force here."""
        if rule.kind == "issued_before":
            return self._before == rule
        if rule.kind == "identity":
            return self._identity.get((str(rule.value), rule.room)) == rule
        table = {"jti": self._jti, "room": self._room, "key": self._key}.get(rule.kind, {})
        return table.get(str(rule.value)) == rule

    def lift(self, rule: Revocation) -> None:
        """Remove a rule; a rule not present is ignored."""
        if rule.kind == "issued_before":
            if self._before == rule:
                self._before = None
        elif rule.kind == "identity":
            if self._identity.get((str(rule.value), rule.room)) == rule:
                del self._identity[(str(rule.value), rule.room)]
        else:
            table = {"jti": self._jti, "room": self._room, "key": self._key}[rule.kind]
            if table.get(str(rule.value)) == rule:
                del table[str(rule.value)]
                if table is self._jti:
                    self._jti_ids.discard(str(rule.value))

    def prune(self, now: float | None = None) -> int:
        """Forget rules that can no longer match a valid token; returns how many."""
        moment = _now(now)
        stale = [r for r in self.rules() if r.expires_at is not None and r.expires_at <= moment]
        for rule in stale:
            self.lift(rule)
        return len(stale)

    def __call__(self, claims: Claims, kid: str) -> Revocation | None:
        jti = claims.jti
        if jti is not None and jti in self._jti_ids:
            return self._jti[jti]
        before = self._before
        if before is None and not (self._identity or self._room or self._key):
            return None  # the common case: only jti rules, or none at all
        issued = claims.issued_at if claims.issued_at is not None else claims.not_before
        if before is not None and (issued is None or issued < float(before.value)):
            return before
        if not (self._identity or self._room or self._key):
            return None
        for hit in self._candidates(claims, kid):
            if issued is None or issued <= hit.revoked_at:
                return hit
        return None

    def _candidates(self, claims: Claims, kid: str) -> Iterator[Revocation]:
        if claims.identity is not None:
            for room in (None, claims.room):
                if (hit := self._identity.get((claims.identity, room))) is not None:
                    yield hit
        if claims.room is not None and (hit := self._room.get(claims.room)) is not None:
            yield hit
        if (hit := self._key.get(kid)) is not None:
            yield hit

    def __len__(self) -> int:
        extra = 1 if self._before else 0
        return len(self._jti) + len(self._identity) + len(self._room) + len(self._key) + extra

    def rules(self) -> list[Revocation]:
        """Every rule held."""
        out = [
            *self._jti.values(),
            *self._identity.values(),
            *self._room.values(),
            *self._key.values(),
        ]
        return out + ([self._before] if self._before else [])


def _now(now: float | None) -> float:
    return time.time() if now is None else now


__all__ = ["InMemoryRevocations", "Revocation", "RevocationChecker"]
