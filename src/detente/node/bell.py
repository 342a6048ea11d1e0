"""The change bell: rung in this process when the node's state may have changed.

Open consoles show state that changes through many paths: a peer's
delivery, the priority lane, an operator's submit, a console form, an
alarm. Rather than each stream asking the database every half second,
whatever changed the state rings the bell once its transaction has
committed, and the waiting streams look at once (:mod:`detente.console.live`).
The bell says only *that* something may have changed, never what: a waiter
reads the state itself, and a spurious ring costs one look.

It is rung from any thread (request handlers in the thread pool, the
sender's threads) and awaited on an event loop. A waiter remembers how
many rings it has seen (:attr:`ChangeBell.rings`, read *before* it reads
the state) and passes that to :meth:`ChangeBell.wait`: a ring between two
waits, or while the state was being read, is never lost.

Only this process rings it: a change made by another process (the CLI on
the same database) is not heard, so waiters keep a timeout and look anyway.

Example:
    >>> import asyncio, threading
    >>> bell = ChangeBell()
    >>> async def watch():
    ...     seen = bell.rings
    ...     threading.Thread(target=bell.ring).start()
    ...     return await bell.wait(5.0, since=seen), await bell.wait(0.01, since=bell.rings)
    >>> asyncio.run(watch())
    (True, False)
"""

from __future__ import annotations

import asyncio
import threading

__all__ = ["ChangeBell"]


class ChangeBell:
    """Wakes the coroutines waiting on it, whichever thread rings and whichever loop waits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rings = 0
        self._waiters: dict[asyncio.Event, asyncio.AbstractEventLoop] = {}

    @property
    def rings(self) -> int:
        """How many times the bell has rung so far: what a waiter remembers."""
        with self._lock:
            return self._rings

    def ring(self) -> None:
        """Wake every waiter; safe from any thread, and cheap when nobody waits."""
        with self._lock:
            self._rings += 1
            waiters = list(self._waiters.items())
        for event, loop in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # the waiter's loop has closed; nothing left to wake
                pass

    async def wait(self, timeout: float, *, since: int) -> bool:
        """Wait until the bell has rung more than ``since`` times, at most ``timeout`` seconds.

        Args:
            timeout: Seconds to wait at most.
            since: :attr:`rings` as the waiter last read it, before it last
                looked at the state.

        Returns:
            True if the bell rang after ``since`` (at once if it already
            had), False if ``timeout`` passed without a ring.
        """
        event = asyncio.Event()
        with self._lock:
            if self._rings != since:
                return True
            self._waiters[event] = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            pass
        finally:
            with self._lock:
                del self._waiters[event]
        return self.rings != since
