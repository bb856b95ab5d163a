"""Read queries compiled to SQL once per process, for the few small reads every page makes.

Building and compiling a queryset (filters, joins, ordering, the select list) cost a page's small
indexed reads several times what PostgreSQL spent on them: 0.3-0.6 ms each (issue #6). A
`Statement` is a queryset compiled once with stand-in values (`slot`, `text_slot`) where the
request's values go (a ticket id, a user id, a reference); each run binds the real values into
the same SQL and turns the rows into what the queryset gives (model instances with their
`select_related` ones, `values()` dicts or `values_list()` tuples), as Django would.

A queryset whose SQL depends on anything else (the time, a list whose length varies) must not
be one, or must be one per shape: the callers key their caches so (`fetch` keeps statements
under such a key).
"""

import re
from collections.abc import Callable, Collection, Hashable, Iterable
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import ModelIterable, get_related_populators

# Values no row has (ids are positive, references printable, no time is in 1970): each slot is
# found among the compiled parameters by its value. Within a 32-bit integer: the ORM binds an
# integer expression (a rank) as one.
_FIRST_SLOT = -1_977_000_000
_PLACEHOLDER = re.compile(r"%[s%]")


def slot(number: int) -> int:
    """The stand-in for a statement's `number`-th integer value (0, 1, ...)."""
    return _FIRST_SLOT - number


def text_slot(number: int) -> str:
    """The stand-in for a statement's `number`-th text value."""
    return f"\x00slot {number}\x00"


def time_slot(number: int) -> datetime:
    """The stand-in for a statement's `number`-th time value."""
    return datetime(1970, 1, 1, 0, 0, 0, 770_000 + number, tzinfo=UTC)


def numbered_slots(name: str, count: int, *, first: int) -> dict[str, int]:
    """Stand-ins for `count` ids (`name_0`, `name_1`, ...), from `slot(first)` on: a list of
    ids whose length is part of the statement's shape (its cache key)."""
    return {f"{name}_{i}": slot(first + i) for i in range(count)}


def numbered_values(name: str, ids: Iterable[int]) -> dict[str, int]:
    """The values of `numbered_slots(name, len(ids), ...)` for these ids."""
    return {f"{name}_{i}": value for i, value in enumerate(sorted(ids))}


def stand_in(value: Any, number: int) -> Any:
    """The `number`-th stand-in of `value`'s kind."""
    if isinstance(value, datetime):
        return time_slot(number)
    if isinstance(value, int) and not isinstance(value, bool):
        return slot(number)
    if isinstance(value, str):
        return text_slot(number)
    raise TypeError(f"no stand-in for a {type(value).__name__}")


def _literal(value: Any, connection: Any) -> str:
    """`value` written into a statement's SQL, quoted as psycopg quotes a client-side parameter
    (its % escaped: the SQL still takes parameters)."""
    if type(value) is int:
        return str(value)
    return connection.ops.compose_sql("%s", [value]).replace("%", "%%")


class Statement:
    """`queryset` compiled once; `rows(name=value, ...)` (`instances`, `dicts`) runs it with the
    values of the slots named when compiling (`Statement(queryset, ticket_id=slot(0))`).

    `constants_in_sql`: on PostgreSQL the parameters no run binds (a page's statuses, say) are
    written into the SQL, so that the plan psycopg's prepared statement keeps can use a partial
    index on them; as parameters they are unknown to a generic plan, and every run was planned
    again (the queue: ~1 ms of planning for 0.5 ms of reading at 1M tickets)."""

    def __init__(
        self, queryset: QuerySet, *, constants_in_sql: bool = False, **slots: int | str | datetime
    ) -> None:
        self.alias = queryset.db
        compiler = queryset.query.get_compiler(self.alias)
        sql, params = compiler.as_sql()
        self.sql = sql
        self.params = list(params)
        self.positions: dict[str, list[int]] = {}
        for name, value in slots.items():
            # The ORM may wrap a value (psycopg's Int4 for an integer expression): bound plain.
            found = [i for i, p in enumerate(params) if isinstance(p, type(value)) and p == value]
            if not found or str(value) in sql:
                raise ValueError(f"slot {name} is not one of the query's parameters")
            self.positions[name] = found
        if constants_in_sql and compiler.connection.vendor == "postgresql":
            self._write_constants_in(compiler.connection)
        fields = [selected[0] for selected in compiler.select[: compiler.col_count]]
        self.converters = list(compiler.get_converters(fields).items())
        query = queryset.query  # the names as ValuesIterable gives them
        self._parts: list[str] | None = None  # `_written`'s, made on its first run
        self.names = (
            list(query.selected)
            if query.selected
            else [*query.extra_select, *query.values_select, *query.annotation_select]
        )
        self.builds_instances = queryset._iterable_class is ModelIterable
        if self.builds_instances:  # as ModelIterable does, once
            if queryset._known_related_objects:
                raise ValueError("a statement builds no instances of a related manager")
            self.annotation_columns = list(compiler.annotation_col_map.items())
            klass_info = compiler.klass_info
            self.model = klass_info["model"]
            first, last = klass_info["select_fields"][0], klass_info["select_fields"][-1]
            self.model_columns = slice(first, last + 1)
            self.init_list = [
                column[0].target.attname for column in compiler.select[first : last + 1]
            ]
            self.related_populators = get_related_populators(
                klass_info, compiler.select, self.alias
            )

    def _write_constants_in(self, connection: Any) -> None:
        slot_at = {position: name for name, found in self.positions.items() for position in found}
        params = iter(enumerate(self.params))
        kept: list[Any] = []
        positions: dict[str, list[int]] = {name: [] for name in self.positions}

        def written(placeholder: re.Match) -> str:
            if placeholder.group() == "%%":
                return "%%"
            position, param = next(params, (None, None))
            if position is None:
                raise ValueError("more placeholders than parameters")
            if position in slot_at:
                positions[slot_at[position]].append(len(kept))
                kept.append(param)
                return "%s"
            return _literal(param, connection)

        sql = _PLACEHOLDER.sub(written, self.sql)
        if next(params, None) is not None:
            raise ValueError("more parameters than placeholders")
        self.sql, self.params, self.positions = sql, kept, positions

    def rows(self, **values: Any) -> list[tuple]:
        """The rows as `values_list` gives them."""
        return self.run(values)

    def run(self, values: dict[str, Any], written_in: Collection[str] = ()) -> list[tuple]:
        """`rows(**values)`, with the values named in `written_in` written into the SQL as
        literals instead of bound (PostgreSQL; elsewhere all are bound). PostgreSQL plans a
        statement psycopg prepared once for any values of its parameters: a plan good for one
        agent's tickets read thousands of another's (`fetch`)."""
        params = self.params.copy()
        for name, positions in self.positions.items():
            for position in positions:
                params[position] = values[name]
        sql = self.sql
        connection = connections[self.alias]
        if written_in and connection.vendor == "postgresql":
            sql, params = self._written(params, written_in, connection)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return self.converted(cursor.fetchall())

    def _written(
        self, params: list[Any], written_in: Collection[str], connection: Any
    ) -> tuple[str, list[Any]]:
        if self._parts is None:  # the SQL between its placeholders (not between %% escapes)
            self._parts = []
            start = 0
            for placeholder in _PLACEHOLDER.finditer(self.sql):
                if placeholder.group() == "%s":
                    self._parts.append(self.sql[start : placeholder.start()])
                    start = placeholder.end()
            self._parts.append(self.sql[start:])
        written = {position for name in written_in for position in self.positions.get(name, ())}
        pieces, kept = [self._parts[0]], []
        for position, part in enumerate(self._parts[1:]):
            value = params[position]
            if position not in written:
                pieces.append("%s")
                kept.append(value)
            else:
                pieces.append(_literal(value, connection))
            pieces.append(part)
        return "".join(pieces), kept

    def converted(self, rows: list[tuple]) -> list[tuple]:
        """Rows of this statement's columns, read by another statement that selects them (the
        filing statement reads a new ticket's row so), as `rows` gives them."""
        if not self.converters:
            return rows
        connection = connections[self.alias]
        converted = []
        for row in rows:
            row = list(row)
            for position, (converters, expression) in self.converters:
                value = row[position]
                for converter in converters:
                    value = converter(value, expression, connection)
                row[position] = value
            converted.append(tuple(row))
        return converted

    def instances(self, **values: Any) -> list[Any]:
        """The rows as model instances (the queryset gave instances)."""
        if not self.builds_instances:
            raise TypeError("the statement reads values, not instances")
        instances = []
        for row in self.rows(**values):
            instance = self.model.from_db(self.alias, self.init_list, row[self.model_columns])
            for populator in self.related_populators:
                populator.populate(row, instance)
            for name, position in self.annotation_columns:
                setattr(instance, name, row[position])
            instances.append(instance)
        return instances

    def dicts(self, **values: Any) -> list[dict[str, Any]]:
        """The rows as `values` gives them (the queryset must be a `values()` one)."""
        return self.named(self.run(values))

    def named(self, rows: list[tuple]) -> list[dict[str, Any]]:
        """Converted rows as `values` gives them."""
        names = self.names
        return [dict(zip(names, row, strict=True)) for row in rows]


# Statements kept by `fetch`, per key; emptied when full (keys are shapes, not values).
STATEMENTS_KEPT = 512
_kept: dict[Hashable, Statement] = {}


def fetch(
    key: Hashable,
    build: Callable[..., QuerySet],
    *,
    written_in: Collection[str] = (),
    **values: Any,
) -> list[dict[str, Any]]:
    """`list(build(**values))` for a values() queryset `build` makes, compiled once per `key`
    (its constants written into the SQL): the key holds everything else the query depends on;
    `values` (ids, times, texts) change between requests and are bound at each run, but those
    named in `written_in`, which are written into the SQL (`Statement.run`): PostgreSQL then
    plans for them (a department's or an agent's share of the tickets), and psycopg keeps a
    plan per SQL text that a connection runs again. A query that cannot be kept (no rows by
    construction, a value it does not take as a parameter) is run through the ORM."""
    statement = _kept.get(key)
    if statement is None:
        stand_ins = {name: stand_in(value, n) for n, (name, value) in enumerate(values.items())}
        try:
            statement = Statement(build(**stand_ins), constants_in_sql=True, **stand_ins)
        except (EmptyResultSet, ValueError):
            return list(build(**values))
        if len(_kept) >= STATEMENTS_KEPT:
            _kept.clear()
        _kept[key] = statement
    return statement.named(statement.run(values, written_in))
