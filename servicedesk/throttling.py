"""Throttles: sign-in attempts per client address, and writes per user.

The counters live in the shared cache (Redis). If the cache is unreachable the throttles let the
request through and log it: a Redis outage must not stop people filing tickets (DESIGN §3).
"""

import logging

from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

logger = logging.getLogger(__name__)


class FailOpenMixin:
    """Allow the request when the throttle's cache cannot be reached."""

    def allow_request(self, request: Request, view: object) -> bool:
        try:
            return super().allow_request(request, view)  # type: ignore[misc]
        except (RedisError, OSError):
            logger.warning("throttle cache unreachable; letting the request through")
            return True


class AuthRateThrottle(FailOpenMixin, AnonRateThrottle):
    """Token sign-in attempts, keyed by client address whether or not the caller is signed in."""

    scope = "auth"

    def get_cache_key(self, request: Request, view: object) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class WriteRateThrottle(FailOpenMixin, UserRateThrottle):
    """Writes only (reads are bounded by pagination instead)."""

    scope = "write"

    def allow_request(self, request: Request, view: object) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)
