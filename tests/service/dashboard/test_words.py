"""Grants and times in plain words."""

from __future__ import annotations

import pytest

from roomkey.grants import Grant, JoinMode
from roomkey.roles import PRESETS, Role
from roomkey.service.dashboard.words import duration_words, grant_words, moment_words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "0 seconds"),
        (1, "1 second"),
        (59, "59 seconds"),
        (180, "3 minutes"),
        (3600, "1 hour"),
        (2 * 86400 + 5, "2 days"),
        (-90, "1 minute"),
    ],
)
def test_durations(seconds: float, words: str) -> None:
    assert duration_words(seconds) == words


def test_moments_are_relative() -> None:
    assert moment_words(1000, 820) == "in 3 minutes"
    assert moment_words(820, 1000) == "3 minutes ago"


def test_a_speaker_and_a_lobby_guest_in_words() -> None:
    speaker = grant_words(PRESETS[Role.SPEAKER])
    assert "may publish: microphone" in speaker
    waiting = grant_words(Grant(join=JoinMode.ASK, can_produce=False, sources=frozenset()))
    assert waiting[:2] == [
        "waits in the lobby until someone admits it",
        "may not publish any track",
    ]
