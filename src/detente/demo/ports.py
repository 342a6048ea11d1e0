"""Free loopback ports for the demo's nodes and the tests' servers.

A port the kernel picks for ``bind(0)`` comes from Linux's ephemeral range
(32768-60999), the range outgoing connections take their local ports from:
between choosing it and the server's own bind, some client could take it
("address already in use"). Ports from 20000-32767 are never taken that
way, and none is handed out twice by one process.

Example:
    >>> 20000 <= free_port() < 32768
    True
"""

from __future__ import annotations

import random
import socket
import threading

__all__ = ["free_port"]

_LOW, _HIGH = 20000, 32768
_given: set[int] = set()
_lock = threading.Lock()


def free_port() -> int:
    """A loopback port nothing listens on now, not handed out before by this process.

    Raises:
        RuntimeError: no port in the range could be bound.
    """
    chooser = random.SystemRandom()
    with _lock:
        for _ in range(1000):
            port = chooser.randrange(_LOW, _HIGH)
            if port in _given:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _given.add(port)
            return port
    raise RuntimeError(f"no free loopback port in {_LOW}-{_HIGH - 1}")
