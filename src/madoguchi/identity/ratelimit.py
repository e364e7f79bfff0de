"""A sliding-window limiter for login attempts, per client address and per account.

It is per process: with several instances behind a load balancer each one limits on its own,
which still bounds guessing to N × limit.
"""

from __future__ import annotations

from collections import deque

from madoguchi.kernel.clock import Clock
from madoguchi.kernel.errors import TooManyRequests


class SlidingWindowLimiter:
    def __init__(self, clock: Clock, *, limit: int, window_s: float = 60.0) -> None:
        self.clock = clock
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = {}

    def hit(self, *keys: str) -> None:
        """Record one attempt under each key; raise TooManyRequests when any key is over the limit."""
        now = self.clock.now().timestamp()
        over = False
        for key in keys:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                over = True
            hits.append(now)
        if len(self._hits) > 100_000:
            self._hits.clear()  # bound memory under a spray of distinct keys
        if over:
            raise TooManyRequests("too many login attempts; wait a minute and try again")
