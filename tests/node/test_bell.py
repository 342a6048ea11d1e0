"""The change bell: rung from any thread, awaited on any loop, no ring lost between waits."""

from __future__ import annotations

import asyncio
import doctest
import threading

from detente.node import bell as bell_module
from detente.node.alarms import raise_alarm
from detente.node.bell import ChangeBell

# A guard against a hang when the bell is broken, never a measure of speed.
GUARD = 30.0


def _ring_from_a_thread(bell: ChangeBell) -> None:
    thread = threading.Thread(target=bell.ring)
    thread.start()
    thread.join()


async def _blocked(task: asyncio.Task) -> None:
    """Let ``task`` run until it waits on the bell."""
    for _ in range(3):
        await asyncio.sleep(0)
    assert not task.done()


def test_a_ring_from_another_thread_wakes_a_waiting_coroutine():
    bell = ChangeBell()

    async def scenario():
        waiter = asyncio.create_task(bell.wait(GUARD, since=bell.rings))
        await _blocked(waiter)
        _ring_from_a_thread(bell)
        return await asyncio.wait_for(waiter, GUARD)

    assert asyncio.run(scenario()) is True


def test_a_ring_between_two_waits_is_not_lost():
    bell = ChangeBell()

    async def scenario():
        seen = bell.rings  # read before looking at the state
        _ring_from_a_thread(bell)  # a change lands while the state is being read
        first = await bell.wait(GUARD, since=seen)
        # Two rings before the next wait count as one look.
        seen = bell.rings
        bell.ring()
        bell.ring()
        second = await bell.wait(GUARD, since=seen)
        third = await bell.wait(0.01, since=bell.rings)
        return first, second, third

    assert asyncio.run(scenario()) == (True, True, False)


def test_a_wait_without_a_ring_times_out_with_false():
    bell = ChangeBell()

    async def scenario():
        return await bell.wait(0.01, since=bell.rings)

    assert asyncio.run(scenario()) is False
    assert bell._waiters == {}


def test_one_ring_wakes_waiters_on_several_loops():
    bell = ChangeBell()
    seen = bell.rings
    waiting = threading.Barrier(4)
    results: list[bool] = []

    def waiter():
        async def wait():
            task = asyncio.create_task(bell.wait(GUARD, since=seen))
            await _blocked(task)
            await asyncio.to_thread(waiting.wait)
            return await task

        results.append(asyncio.run(wait()))

    threads = [threading.Thread(target=waiter) for _ in range(3)]
    for thread in threads:
        thread.start()
    waiting.wait()  # all three are waiting on the bell
    bell.ring()
    for thread in threads:
        thread.join(GUARD)
    assert results == [True, True, True]


def test_a_cancelled_waiter_is_forgotten():
    bell = ChangeBell()

    async def scenario():
        task = asyncio.create_task(bell.wait(GUARD, since=bell.rings))
        await _blocked(task)
        assert len(bell._waiters) == 1
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert bell._waiters == {}
    bell.ring()  # nobody left to wake


def test_every_node_has_a_bell_and_a_raised_alarm_rings_it(node):
    seen = node.bell.rings
    assert raise_alarm(node, kind="stale_log", party="ru", detail="no word from ru")
    assert node.bell.rings == seen + 1
    assert not raise_alarm(node, kind="stale_log", party="ru", detail="no word from ru")
    assert node.bell.rings == seen + 1, "nothing was raised: nothing to ring for"


def test_the_module_example():
    assert doctest.testmod(bell_module).failed == 0
