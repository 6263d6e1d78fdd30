"""Pausing the cyclic garbage collector while a bulk of long-lived objects is built.

Loading 1,000,000 revocations creates millions of objects that all survive: each young
collection finds nothing to free, and the older generations are scanned again and again as they
grow (measured: more than half of a node's start). Reference counting still frees everything
else meanwhile; the collector runs again, as configured, as soon as the block ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disable the cyclic collector inside the block (if it was enabled), then restore it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
