"""The import pauses the cyclic garbage collector only inside its bulk loops and always restores the previous state."""
from __future__ import annotations

import gc

import pytest

from app.roster_import.service import _cyclic_gc_paused


def test_the_collector_is_off_inside_the_block_and_on_again_after_it_even_after_an_error():
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        with _cyclic_gc_paused():
            assert not gc.isenabled()
            raise RuntimeError("row failed")
    assert gc.isenabled()


def test_a_collector_that_was_already_off_stays_off():
    gc.disable()
    try:
        with _cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
