"""Small bounded memo tables for the hot paths (headers, grants): values are immutable.

A table is cleared when full rather than evicting one entry at a time: the working set of a
real deployment (a few keys, a few permission sets) is far below the bound, and clearing keeps
the hot path a single dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

V = TypeVar("V")
DEFAULT_BOUND = 4096


class Memo(dict[Hashable, V]):
    """A dictionary with a size bound; ``get_or(key, make)`` computes and remembers a value."""

    def __init__(self, bound: int = DEFAULT_BOUND) -> None:
        super().__init__()
        self.bound = bound

    def get_or(self, key: Hashable, make: Callable[[], V]) -> V:
        """The remembered value, or ``make()`` remembered (exceptions are not remembered)."""
        value = self.get(key)
        if value is None:
            value = make()
            if len(self) >= self.bound:
                self.clear()
            self[key] = value
        return value

    def put(self, key: Hashable, value: V) -> V:
        """Remember ``value`` under ``key`` (clearing the table first when full); returns it."""
        if len(self) >= self.bound:
            self.clear()
        self[key] = value
        return value
