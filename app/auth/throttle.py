"""Failed-login counting shared across workers: Redis in production (REDIS_URL), memory in development.

After LOGIN_MAX_FAILURES failures within LOGIN_LOCK_SECONDS the account is locked for LOGIN_LOCK_SECONDS.
"""
from __future__ import annotations

import threading
import time
from typing import Protocol


class Throttle(Protocol):
    def failure(self, username: str) -> int: ...
    def is_locked(self, username: str) -> bool: ...
    def reset(self, username: str) -> None: ...
    def hit(self, key: str) -> bool: ...


class MemoryThrottle:
    def __init__(self, max_failures: int, window: int, clock=time.monotonic):
        self.max_failures, self.window, self.clock = max_failures, window, clock
        self._failures: dict[str, list[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def failure(self, username: str) -> int:
        now = self.clock()
        with self._lock:
            recent = [t for t in self._failures.get(username, []) if now - t < self.window] + [now]
            self._failures[username] = recent
            if len(recent) >= self.max_failures:
                self._locked_until[username] = now + self.window
            return len(recent)

    def is_locked(self, username: str) -> bool:
        with self._lock:
            return self._locked_until.get(username, 0) > self.clock()

    def reset(self, username: str) -> None:
        with self._lock:
            self._failures.pop(username, None)
            self._locked_until.pop(username, None)

    def hit(self, key: str) -> bool:
        """Rate limiting with the same counter: count one request; False once `max_failures` are used up."""
        if self.is_locked(key):
            return False
        self.failure(key)
        return True


class RedisThrottle:
    """INCR with an expiry per user; a lock key with its own expiry. Atomic across workers."""

    def __init__(self, client, max_failures: int, window: int, prefix: str = "xinmiao:login:"):
        self.r, self.max_failures, self.window, self.prefix = client, max_failures, window, prefix

    def failure(self, username: str) -> int:
        key = f"{self.prefix}fail:{username}"
        pipe = self.r.pipeline()
        pipe.incr(key)
        pipe.expire(key, self.window, nx=True)
        count = int(pipe.execute()[0])
        if count >= self.max_failures:
            self.r.set(f"{self.prefix}lock:{username}", "1", ex=self.window)
        return count

    def is_locked(self, username: str) -> bool:
        return bool(self.r.exists(f"{self.prefix}lock:{username}"))

    def reset(self, username: str) -> None:
        self.r.delete(f"{self.prefix}fail:{username}", f"{self.prefix}lock:{username}")

    def hit(self, key: str) -> bool:
        if self.is_locked(key):
            return False
        self.failure(key)
        return True


def make_throttle(config: dict) -> Throttle:
    max_failures, window = config["LOGIN_MAX_FAILURES"], config["LOGIN_LOCK_SECONDS"]
    if config.get("REDIS_URL"):
        import redis

        return RedisThrottle(redis.Redis.from_url(config["REDIS_URL"]), max_failures, window)
    return MemoryThrottle(max_failures, window)


def make_rate_limiter(config: dict, prefix: str, max_hits: int, window: int) -> Throttle:
    """A generic per-key limiter (e.g. per client address) built on the same counters as the login throttle:
    `hit(key)` counts one request and answers False once `max_hits` were used within `window` seconds (the key is
    then refused for `window` seconds); `failure`/`is_locked` count only failed attempts. Redis when configured."""
    if config.get("REDIS_URL"):
        import redis

        return RedisThrottle(redis.Redis.from_url(config["REDIS_URL"]), max_hits, window, prefix=f"xinmiao:{prefix}:")
    return MemoryThrottle(max_hits, window)
