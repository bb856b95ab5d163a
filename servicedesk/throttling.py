"""Throttles: sign-in attempts per client address, and writes per user.

The counters live in the shared cache (Redis). If the cache is unreachable the throttles let the
request through and log it: a Redis outage must not stop people filing tickets (DESIGN §3).
"""

import logging
import secrets

import redis
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from servicedesk.cache_redis import cache_key_prefix, cache_redis

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

logger = logging.getLogger(__name__)

# DRF's window, kept as a sorted set of request times: drop the times a window old, then admit
# the request (and record it) if fewer than the limit remain. Replies {admitted, times in the
# window, oldest time} (the oldest as text: Redis would truncate a Lua number to an integer).
_SLIDING_WINDOW = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('EXPIRE', KEYS[1], window)
  return {1, count + 1, ''}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, count, oldest[2] or ''}
"""
_scripts: dict[int, "redis.commands.core.Script"] = {}


def _sliding_window() -> "redis.commands.core.Script | None":
    """The script, bound to the shared cache's Redis; None without a Redis cache (the embedded
    set-up's local memory)."""
    client = cache_redis()
    if client is None:
        return None
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(_SLIDING_WINDOW)
    return script


class RedisWindowMixin:
    """DRF's sliding window (at most `num_requests` in any `duration` seconds, a refused request
    not counted), checked and recorded in Redis by one script: one round trip instead of reading
    and writing back the whole pickled history, and no update lost between concurrent requests.
    DRF's own way without a Redis cache."""

    _window: tuple[int, float] | None = None  # (times in the window, oldest) once refused

    def allow_request(self, request: Request, view: object) -> bool:
        throttle: SimpleRateThrottle = self  # type: ignore[assignment]
        script = _sliding_window()
        if script is None or throttle.rate is None:
            return super().allow_request(request, view)  # type: ignore[misc]
        key = throttle.get_cache_key(request, view)
        if key is None:
            return True
        throttle.key = key
        throttle.now = now = throttle.timer()
        prefix = cache_key_prefix()
        admitted, count, oldest = script(
            keys=[f"{prefix}:window:{key}"],
            args=[repr(now), throttle.duration, throttle.num_requests, secrets.token_hex(8)],
        )
        if admitted:
            return True
        self._window = (int(count), float(oldest) if oldest else now)
        return False

    def wait(self) -> float | None:
        if self._window is None:
            return super().wait()  # type: ignore[misc]
        # SimpleRateThrottle.wait, from the window the script saw.
        throttle: SimpleRateThrottle = self  # type: ignore[assignment]
        count, oldest = self._window
        remaining = throttle.duration - (throttle.now - oldest) if count else throttle.duration
        available = throttle.num_requests - count + 1
        if available <= 0:
            return None
        return remaining / float(available)


class FailOpenMixin:
    """Allow the request when the throttle's cache cannot be reached."""

    def allow_request(self, request: Request, view: object) -> bool:
        try:
            return super().allow_request(request, view)  # type: ignore[misc]
        except (RedisError, OSError):
            logger.warning("throttle cache unreachable; letting the request through")
            return True


class AuthRateThrottle(FailOpenMixin, RedisWindowMixin, AnonRateThrottle):
    """Token sign-in attempts, keyed by client address whether or not the caller is signed in."""

    scope = "auth"

    def get_cache_key(self, request: Request, view: object) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class WriteRateThrottle(FailOpenMixin, RedisWindowMixin, UserRateThrottle):
    """Writes only (reads are bounded by pagination instead)."""

    scope = "write"

    def allow_request(self, request: Request, view: object) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)
