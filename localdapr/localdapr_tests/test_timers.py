"""Durable timers never fire before their time, even when the loop wakes a little early."""

import asyncio
import time

from localdapr.workflow.timers import Timers


async def test_a_timer_woken_early_waits_for_its_time() -> None:
    timers: Timers[int] = Timers()
    fired: list[tuple[int, float]] = []
    fire_at = time.time() + 0.05

    # As uvloop may do: its millisecond timer calls back before the wall clock is there.
    timers._fire(7, fire_at, lambda row: fired.append((row, time.time())))

    assert fired == []
    await asyncio.sleep(0.1)
    [(row, at)] = fired
    assert row == 7 and at >= fire_at


async def test_a_cancelled_timer_never_fires() -> None:
    timers: Timers[int] = Timers()
    fired: list[int] = []
    timers.arm(1, time.time() + 0.02, fired.append)
    timers.cancel([1])
    await asyncio.sleep(0.05)
    assert fired == []
