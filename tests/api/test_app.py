"""The app factory's process-wide settings: the garbage collector after a start."""

from __future__ import annotations

import gc

from roomkey.api.app import tune_garbage_collector


def test_tuning_freezes_the_start_and_turns_the_collector_on_again() -> None:
    # roomkey serve starts with the collector off (roomkey.cli.server): tuning turns it on
    thresholds = gc.get_threshold()
    gc.disable()
    try:
        tune_garbage_collector()
        assert gc.isenabled()
        assert gc.get_threshold()[0] == 50_000
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        gc.enable()
