"""Throttles: sign-in attempts per client address, and writes per user."""

from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class AuthRateThrottle(AnonRateThrottle):
    """Token sign-in attempts, keyed by client address whether or not the caller is signed in."""

    scope = "auth"

    def get_cache_key(self, request: Request, view: object) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class WriteRateThrottle(UserRateThrottle):
    """Writes only (reads are bounded by pagination instead)."""

    scope = "write"

    def allow_request(self, request: Request, view: object) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)
