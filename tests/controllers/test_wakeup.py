"""The controllers' doorbell: every waiting loop wakes on a ring, higher priority first, and a
ring that comes while a loop is busy is kept for its next wait."""

from __future__ import annotations

import asyncio
import threading
import time

from conveyor.controllers.wakeup import Wakeup


def test_a_ring_wakes_every_waiter_higher_priority_first() -> None:
    async def scenario() -> list[str]:
        wakeup = Wakeup()
        woken: list[str] = []

        async def loop(name: str, priority: int) -> None:
            await wakeup.wait(10, priority=priority)
            woken.append(name)

        waiters = [
            asyncio.create_task(loop("builds", 0)),
            asyncio.create_task(loop("watcher", 0)),
            asyncio.create_task(loop("apps", 1)),
        ]
        await asyncio.sleep(0.01)  # all three are waiting, "apps" last
        wakeup.ring()
        await asyncio.wait_for(asyncio.gather(*waiters), 5)
        return woken

    assert asyncio.run(scenario()) == ["apps", "builds", "watcher"]


def test_a_ring_while_a_loop_is_busy_is_not_lost() -> None:
    async def scenario() -> float:
        wakeup = Wakeup()
        await wakeup.wait(0.01)  # this task has now seen every ring so far
        wakeup.ring()  # ... but not this one, which comes before its next wait
        began = time.monotonic()
        await wakeup.wait(10)
        return time.monotonic() - began

    assert asyncio.run(scenario()) < 5


def test_a_ring_from_another_thread_wakes_the_loop() -> None:
    async def scenario() -> float:
        wakeup = Wakeup()
        await wakeup.wait(0.01)
        threading.Timer(0.05, wakeup.ring).start()
        began = time.monotonic()
        await wakeup.wait(10)
        return time.monotonic() - began

    assert asyncio.run(scenario()) < 5


def test_without_a_ring_the_wait_ends_at_its_timeout() -> None:
    async def scenario() -> tuple[float, int]:
        wakeup = Wakeup()
        began = time.monotonic()
        await wakeup.wait(0.05)
        return time.monotonic() - began, len(wakeup._waiters)

    waited, left_waiting = asyncio.run(scenario())
    assert waited >= 0.05
    assert left_waiting == 0
