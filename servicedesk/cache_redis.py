"""A Redis client of the shared cache's server, kept by the process, for the few places that
talk to Redis directly (one script, one token) rather than through `django.core.cache`."""

import redis
from django.conf import settings

_clients: dict[str, redis.Redis] = {}


def cache_redis() -> redis.Redis | None:
    """The client, or None without a Redis cache (the embedded set-up's local memory). Not
    `cache.get`'s: Django's cache builds a client per call, 95 µs against 27. Short timeouts:
    callers go on without Redis when it is unreachable."""
    config = settings.CACHES["default"]
    if config["BACKEND"] != "django.core.cache.backends.redis.RedisCache":
        return None
    location = config["LOCATION"]
    if not isinstance(location, str):  # several servers: the first is the one written to
        location = location[0]
    location = location.split(",")[0]
    client = _clients.get(location)
    if client is None:
        client = _clients[location] = redis.Redis.from_url(
            location, socket_connect_timeout=1, socket_timeout=1
        )
    return client


def cache_key_prefix() -> str:
    return settings.CACHES["default"].get("KEY_PREFIX", "")
