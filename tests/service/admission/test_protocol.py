"""The event stream's wire vocabulary: close codes and what they mean, error frames, ``since``."""

from __future__ import annotations

import pytest

from roomkey.errors import BadFrameError, RateLimitedError
from roomkey.service.admission.protocol import CLOSE_MEANING, CloseCode, error_frame, parse_since


def test_every_close_code_says_what_it_means() -> None:
    assert set(CLOSE_MEANING) == set(CloseCode)
    assert all(4000 <= c < 5000 or 1000 <= c < 1016 for c in CloseCode)


def test_an_error_frame_has_the_apis_error_shape() -> None:
    frame = error_frame(RateLimitedError("slow down", limit=20))
    assert frame == {
        "type": "error",
        "error": "rate_limited",
        "message": "slow down",
        "details": {"limit": 20},
    }


@pytest.mark.parametrize(("text", "seq"), [(None, None), ("", None), ("0", 0), ("42", 42)])
def test_since_is_a_sequence_number(text: str | None, seq: int | None) -> None:
    assert parse_since(text) == seq


@pytest.mark.parametrize("text", ["-1", "1.5", "abc", "1e3", "9" * 19, " 3", "\u00b2", "\u0663"])
def test_anything_else_is_a_bad_frame(text: str) -> None:
    with pytest.raises(BadFrameError):
        parse_since(text)
