"""Database connection tuning that Django does not do for us.

Timestamps: with psycopg 3, Django registers a Python subclass of psycopg's pure-Python
`timestamptz` loader on every connection, to attach its own time zone; that parses each value in
Python (about 3 µs, against 0.3 µs for psycopg's C loader). A ticket list page reads about 500
timestamps, so that is 1.5 ms of every list. When the connection's session time zone is UTC (what
Django sets with USE_TZ and no per-database TIME_ZONE), the C loader already returns the same
aware datetimes in `datetime.timezone.utc`, so we let it parse them.
"""

from datetime import UTC
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper


def _c_timestamptz_loader() -> type | None:
    """psycopg's C-accelerated timestamptz loader, or None without the C extension."""
    import psycopg
    from psycopg.pq import Format

    loader = psycopg.adapters.get_loader(psycopg.adapters.types["timestamptz"].oid, Format.TEXT)
    return loader if loader is not None and loader.__module__.startswith("psycopg_") else None


def _utc_loader_class(c_loader: type) -> type:
    from psycopg.adapt import Loader

    class UtcTimestamptzLoader(Loader):
        """Delegates to the C loader. `timezone` is what Django compares to decide whether a
        cursor needs its own loader (it does not: the session zone is UTC)."""

        timezone = UTC

        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self.load = c_loader(oid, context).load  # type: ignore[method-assign]

        def load(self, data: Any) -> Any:  # replaced per instance by the C loader's
            raise NotImplementedError

    return UtcTimestamptzLoader


_LOADER: type | None = None


def use_c_timestamp_loader(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """`connection_created` receiver: register the C-backed loader when it is equivalent."""
    global _LOADER
    if connection.vendor != "postgresql" or getattr(connection, "timezone", None) != UTC:
        return
    raw = connection.connection
    if raw.info.parameter_status("TimeZone") != "UTC":
        return
    if _LOADER is None:
        c_loader = _c_timestamptz_loader()
        if c_loader is None:
            return
        _LOADER = _utc_loader_class(c_loader)
    raw.adapters.register_loader("timestamptz", _LOADER)
