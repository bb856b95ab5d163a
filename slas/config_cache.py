"""SLA policies, built work calendars and the catalog entries filing reads (a service with its
department and consumer departments) kept by each process across requests (issue #6).

Copies are valid while the SLA configuration's version (a PostgreSQL sequence, migration
slas 0006) is the one read before they were loaded. Every save or delete of a policy, agreement,
calendar, calendar day, service or department (and a change of a service's consumers), whatever
the path (services, admin, fixtures, commands, migrations), clears this process's copies at once
and advances the version after commit, which the other processes (web and Celery workers) read
before using theirs. A request reads the version once, with its user (`version_column`: the API
token's query, the page session's), so keeping costs no query of its own. On another database
(the embedded SQLite set-up) nothing is kept: every request reads the database.
"""

import contextvars
import logging
import time
from collections.abc import Hashable
from typing import Any

from django.core.signals import request_finished, request_started
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.db.models import BigIntegerField
from django.db.models.expressions import RawSQL
from django.db.models.signals import m2m_changed, post_delete, post_save

logger = logging.getLogger(__name__)

_READ = "SELECT last_value FROM slas_config_version"  # the sequence of migration slas 0006
_ADVANCE = "SELECT nextval('slas_config_version')"
# A copy is read again after this long even if the version did not change: a change whose
# version was not advanced (the database gone between the commit and the advance) serves old
# rules no longer.
MAX_AGE_SECONDS = 60.0

# kind ("policy" | "calendar" | ...), key (an id, or what the copy was worked out from)
# -> (version, loaded at (monotonic), value)
_copies: dict[tuple[str, Hashable], tuple[str, float, Any]] = {}

# The version this request read: None outside a request (a Celery task reads it at each use),
# IN_REQUEST in one that has not read it yet.
IN_REQUEST = ""
_request_version: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "slas_config_version", default=None
)


def _kept_here() -> bool:
    return connections[DEFAULT_DB_ALIAS].vendor == "postgresql"


def version() -> str | None:
    """The current configuration version (read once per request), or None: keep nothing."""
    known = _request_version.get()
    if known:
        return known
    if not _kept_here():
        return None
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(_READ)
        (value,) = cursor.fetchone()
    current = str(value)
    if known is not None:  # in a request: read once
        _request_version.set(current)
    return current


def version_column() -> RawSQL | None:
    """The version as a column of a query the request makes anyway (its user's); hand its
    value to `take_version`. None where nothing is kept."""
    if not _kept_here():
        return None
    return RawSQL(_READ, (), output_field=BigIntegerField())  # noqa: S611 - a constant


def take_version(value: int | None) -> None:
    """The version `version_column` read, for the rest of this request (outside a request,
    where nothing would forget it at the end, it is not kept)."""
    if value is not None and _request_version.get() == IN_REQUEST:
        _request_version.set(str(value))


def _request_starts(**_kwargs: Any) -> None:
    _request_version.set(IN_REQUEST)


def _request_ends(**_kwargs: Any) -> None:
    _request_version.set(None)


def get(kind: str, pk: Hashable, current: str | None) -> Any:
    """This process's copy of `kind` `pk` if loaded under the `current` version, else None."""
    if current is None:
        return None
    copy = _copies.get((kind, pk))
    if copy is None or copy[0] != current or time.monotonic() - copy[1] > MAX_AGE_SECONDS:
        return None
    return copy[2]


def keep(kind: str, pk: Hashable, current: str | None, value: Any) -> None:
    """Keep `value`, read from the database after `current` was read (never before it: a change
    committed in between would then be kept under the new version)."""
    if current is None or _change_pending():
        return
    if len(_copies) >= 256:
        _copies.clear()
    _copies[(kind, pk)] = (current, time.monotonic(), value)


def changed() -> None:
    """The SLA configuration changed: drop this process's copies now and advance the version once
    the change is committed (before that, the other processes read the old rows anyway)."""
    _copies.clear()
    transaction.on_commit(announce_change)


def _change_pending() -> bool:
    """This process changed the configuration in a transaction not yet committed: rows it reads
    now may be rolled back, so nothing is kept until the commit (tests, which never commit,
    read the database after any change, as before)."""
    pending = transaction.get_connection().run_on_commit
    return any(func is announce_change for _sids, func, _robust in pending)


def announce_change() -> None:
    """Advance the version, so that every process reads the rows again (on commit of a
    change)."""
    _copies.clear()
    if not _kept_here():
        return
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(_ADVANCE)
    except DatabaseError:
        logger.warning(
            "SLA configuration changed but its version could not be advanced; other processes "
            "keep their copies for up to %s s",
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
    request_started.connect(_request_starts, dispatch_uid="slas-config-request-starts")
    request_finished.connect(_request_ends, dispatch_uid="slas-config-request-ends")
