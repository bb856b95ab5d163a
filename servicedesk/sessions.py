"""Sessions: Django's database store, with the read every page does written as one SQL statement."""

from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    """Django's database sessions (rows of django_session, created, saved, expired and deleted
    by Django as before). Only the read is SQL: building and compiling `Session.objects.get`
    at every request cost several times the indexed lookup itself (issue #6)."""

    def _get_session_from_db(self) -> Session | None:
        model = self.model
        connection = connections[router.db_for_read(model)]
        quote = connection.ops.quote_name
        table = quote(model._meta.db_table)
        data, key, expires = (
            quote(model._meta.get_field(name).column)
            for name in ("session_data", "session_key", "expire_date")
        )
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {data} FROM {table} WHERE {key} = %s AND {expires} > %s",  # noqa: S608 - names quoted, values bound
                [self.session_key, now],
            )
            row = cursor.fetchone()
        if row is None:  # unknown or expired, as Django's store: the key is dropped
            self._session_key = None
            return None
        return model(session_key=self.session_key, session_data=row[0])
