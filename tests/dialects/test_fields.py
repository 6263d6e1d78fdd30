"""The shared payload readers: the one-pass fast readers agree with the per-field rules."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roomkey.dialects._fields import WireRead, opt_time, quick_times

_MAX = 2**53
_TIME_VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.sampled_from([_MAX, -_MAX, _MAX + 1, -_MAX - 1, 0, 1.5, float("nan"), "1"])
)


@given(st.dictionaries(st.sampled_from(["iat", "nbf", "exp", "sub"]), _TIME_VALUES))
def test_quick_times_takes_exactly_what_opt_time_reads_as_integers(payload: dict[str, Any]) -> None:
    """A list only when every time is absent or an in-range int, and then opt_time's values."""
    fast = quick_times(payload)
    plain = all(
        (payload.get(k) is None and k not in payload)
        or (type(payload.get(k)) is int and -_MAX <= payload[k] <= _MAX)
        for k in ("iat", "nbf", "exp")
    )
    if not plain:
        assert fast is None
    else:
        assert fast == [opt_time(payload, k) for k in ("iat", "nbf", "exp")]


@pytest.mark.parametrize("value", [True, 1.0, _MAX + 1, None])
def test_quick_times_declines_one_odd_time_among_integers(value: Any) -> None:
    assert quick_times({"iat": 1, "nbf": 1, "exp": value}) is None
    assert quick_times({"iat": 1, "nbf": 1}) == [1, 1, None]


def test_wire_read_is_immutable() -> None:
    read = WireRead(claims=None, unknown_keys=("x",))  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        read.unknown_keys = ()  # type: ignore[misc]
    assert WireRead(None).unknown_keys == ()  # type: ignore[arg-type]
