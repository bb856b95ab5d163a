"""SLA policies, built work calendars and the catalog entries filing reads (a service with its
department and consumer departments) kept by each process across requests (issue #6).

Copies are valid while the shared SLA-configuration version (a token in the cache, i.e. Redis) is
the one read before they were loaded. Every save or delete of a policy, agreement, calendar,
calendar day, service or department (and a change of a service's consumers), whatever the path
(services, admin, fixtures, commands, migrations), clears this process's copies at once and sets
a new token after commit, which the other processes (web and Celery workers) read before using
theirs. Without a shared cache (the embedded set-up's local memory) or with Redis unreachable,
nothing is kept: every request reads the database, as before.
"""

import logging
import time
import uuid
from collections.abc import Hashable
from typing import Any

import redis
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from redis.exceptions import RedisError

from servicedesk.cache_redis import cache_key_prefix, cache_redis

logger = logging.getLogger(__name__)

VERSION_KEY = "slas:config-version"
# A copy is read again after this long even if the token did not change: a new token lost
# (Redis unreachable at that commit, then back with its old data) serves old rules no longer.
MAX_AGE_SECONDS = 60.0

# kind ("policy" | "calendar" | ...), key (an id, or what the copy was worked out from)
# -> (version, loaded at (monotonic), value)
_copies: dict[tuple[str, Hashable], tuple[str, float, Any]] = {}


def _redis() -> tuple[redis.Redis, str] | None:
    """The shared cache's Redis and the token's key; None without a shared cache."""
    client = cache_redis()
    if client is None:
        return None
    return client, f"{cache_key_prefix()}:{VERSION_KEY}"


# After Redis failed, requests read the database without asking it again for this long, so an
# unreachable (not refusing) Redis costs one connect timeout per process, not one per request.
RETRY_AFTER_SECONDS = 5.0
_unreachable_until = 0.0


def version() -> str | None:
    """The current configuration token (one Redis read), or None: keep nothing this time."""
    global _unreachable_until
    shared = _redis()
    if shared is None or time.monotonic() < _unreachable_until:
        return None
    client, key = shared
    try:
        token = client.get(key)
        if token is None:  # never set, or lost with Redis's data: start a new one
            client.set(key, uuid.uuid4().hex, nx=True)
            token = client.get(key)
    except (RedisError, OSError):
        _unreachable_until = time.monotonic() + RETRY_AFTER_SECONDS
        logger.warning("SLA configuration version unreachable; reading policies from the database")
        return None
    return token.decode() if token is not None else None


def get(kind: str, pk: Hashable, current: str | None) -> Any:
    """This process's copy of `kind` `pk` if loaded under the `current` token, else None."""
    if current is None:
        return None
    copy = _copies.get((kind, pk))
    if copy is None or copy[0] != current or time.monotonic() - copy[1] > MAX_AGE_SECONDS:
        return None
    return copy[2]


def keep(kind: str, pk: Hashable, current: str | None, value: Any) -> None:
    """Keep `value`, read from the database after `current` was read (never before it: a change
    committed in between would then be kept under the new token)."""
    if current is None or _change_pending():
        return
    if len(_copies) >= 256:
        _copies.clear()
    _copies[(kind, pk)] = (current, time.monotonic(), value)


def changed() -> None:
    """The SLA configuration changed: drop this process's copies now and give every process a new
    token once the change is committed (before that, they read the old rows anyway)."""
    _copies.clear()
    transaction.on_commit(announce_change)


def _change_pending() -> bool:
    """This process changed the configuration in a transaction not yet committed: rows it reads
    now may be rolled back, so nothing is kept until the commit (tests, which never commit,
    read the database after any change, as before)."""
    pending = transaction.get_connection().run_on_commit
    return any(func is announce_change for _sids, func, _robust in pending)


def announce_change() -> None:
    """Give every process a new token (on commit of a change)."""
    _copies.clear()
    shared = _redis()
    if shared is None:
        return
    client, key = shared
    try:
        client.set(key, uuid.uuid4().hex)
    except (RedisError, OSError):
        logger.warning(
            "SLA configuration changed but Redis is unreachable; other processes keep their "
            "copies for up to %s s",
            MAX_AGE_SECONDS,
        )


def _on_write(**_kwargs: Any) -> None:
    changed()


def _on_consumers_changed(*, action: str, **_kwargs: Any) -> None:
    if action.startswith("post_"):
        changed()


def connect() -> None:
    """Watch every write to the models the copies are built from (called from AppConfig.ready).

    Signals, not calls in each service: the admin's inlines, fixtures and data migrations save
    these rows too. Bulk writes (`bulk_create`, `update`) send none; their callers call
    `changed()` (slas.calendars.import_year)."""
    from departments.models import Department
    from tickets.models import Service

    from .models import Agreement, BusinessCalendar, CalendarDay, SlaPolicy

    for model in (SlaPolicy, Agreement, BusinessCalendar, CalendarDay, Service, Department):
        post_save.connect(_on_write, sender=model, dispatch_uid=f"slas-config-{model.__name__}")
        post_delete.connect(_on_write, sender=model, dispatch_uid=f"slas-config-{model.__name__}")
    m2m_changed.connect(
        _on_consumers_changed,
        sender=Service.allowed_consumers.through,
        dispatch_uid="slas-config-service-consumers",
    )
