"""Waking `?wait=` requests when an outcome is recorded, from any thread."""

import asyncio
import threading

from order_app.service.outcomes import OutcomeSignals


async def test_a_signal_from_another_thread_wakes_every_waiter_of_that_order_only():
    signals = OutcomeSignals()
    with signals.watch(7) as first, signals.watch(7) as second, signals.watch(8) as other:
        thread = threading.Thread(target=signals.recorded, args=(7,))
        thread.start()
        thread.join()

        await asyncio.wait_for(asyncio.gather(first.wait(), second.wait()), 10)
        assert not other.is_set()


async def test_a_watch_is_forgotten_when_its_block_ends():
    signals = OutcomeSignals()
    with signals.watch(7):
        assert signals.waiting() == 1
    assert signals.waiting() == 0
    signals.recorded(7)  # nobody waits: nothing to do


async def test_an_outcome_recorded_before_anyone_watches_wakes_nobody_later():
    """The waiter reads the record after it starts watching, so it sees such an outcome there."""
    signals = OutcomeSignals()
    signals.recorded(7)
    with signals.watch(7) as recorded:
        assert not recorded.is_set()
