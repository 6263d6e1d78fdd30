"""Grants and times in plain words, for people reading the dashboard."""

from __future__ import annotations

from roomkey.grants import Grant, JoinMode, Scope, Source

_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
_SOURCE_WORDS = {
    Source.CAM: "camera",
    Source.MIC: "microphone",
    Source.SCREEN: "screen share",
    Source.SCREEN_AUDIO: "screen-share audio",
}


def duration_words(seconds: float) -> str:
    """``3 minutes``, ``1 hour``, ``40 seconds``: the largest whole unit, rounded down."""
    s = int(abs(seconds))
    for unit, size in _UNITS:
        if s >= size or size == 1:
            count = s // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    raise AssertionError("unreachable")  # pragma: no cover


def moment_words(moment: float, now: float) -> str:
    """``in 14 minutes`` or ``3 minutes ago``."""
    if moment > now:
        return f"in {duration_words(moment - now)}"
    return f"{duration_words(now - moment)} ago"


def grant_words(grant: Grant) -> list[str]:
    """What a grant allows, one plain sentence per right, denials included."""
    words: list[str] = []
    if Scope.ROOM in grant.scope:
        words.extend(_room_words(grant))
    if Scope.API in grant.scope:
        caps = sorted(c.value for c in grant.capabilities)
        words.append(
            "calls the server API with: " + ", ".join(caps)
            if caps
            else "a server-API token with no capability"
        )
    return words


def _room_words(grant: Grant) -> list[str]:
    words = [
        "joins at once"
        if grant.join is JoinMode.DIRECT
        else "waits in the lobby until someone admits it"
    ]
    if grant.can_produce:
        sources = ", ".join(_SOURCE_WORDS[s] for s in sorted(grant.sources))
        words.append(f"may publish: {sources}")
    else:
        words.append("may not publish any track")
    words.append("may subscribe to others" if grant.can_consume else "may not subscribe")
    data = [w for w, ok in (("send", grant.can_send_data), ("receive", grant.can_recv_data)) if ok]
    words.append(f"may {' and '.join(data)} data messages" if data else "no data messages")
    if grant.can_update_metadata:
        words.append("may change its own name and metadata")
    if grant.admin:
        words.append("is an admin of the room: removes, bans, changes permissions, locks")
    elif grant.moderate:
        words.append("moderates: mutes others and admits from the lobby")
    if grant.hidden:
        words.append("is hidden from other participants")
    if grant.recorder:
        words.append("is a recording bot")
    return words
