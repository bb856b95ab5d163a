"""Read queries compiled to SQL once per process, for the few small reads every page makes.

Building and compiling a queryset (filters, joins, ordering, the select list) cost a page's small
indexed reads several times what PostgreSQL spent on them: 0.3-0.6 ms each (issue #6). A
`Statement` is a queryset compiled once with stand-in values (`slot`, `text_slot`) where the
request's values go (a ticket id, a user id, a reference); each run binds the real values into
the same SQL and turns the rows into what the queryset gives (model instances with their
`select_related` ones, `values()` dicts or `values_list()` tuples), as Django would.

A queryset whose SQL depends on anything else (the time, a list whose length varies) must not
be one, or must be one per shape: the callers key their caches so.
"""

from typing import Any

from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import ModelIterable, get_related_populators

# Values no row has (ids are positive, references printable): each slot is found among the
# compiled parameters by its value.
_FIRST_SLOT = -(2**40)


def slot(number: int) -> int:
    """The stand-in for a statement's `number`-th integer value (0, 1, ...)."""
    return _FIRST_SLOT - number


def text_slot(number: int) -> str:
    """The stand-in for a statement's `number`-th text value."""
    return f"\x00slot {number}\x00"


class Statement:
    """`queryset` compiled once; `rows(name=value, ...)` (`instances`, `dicts`) runs it with the
    values of the slots named when compiling (`Statement(queryset, ticket_id=slot(0))`)."""

    def __init__(self, queryset: QuerySet, **slots: int | str) -> None:
        self.alias = queryset.db
        compiler = queryset.query.get_compiler(self.alias)
        sql, params = compiler.as_sql()
        self.sql = sql
        self.params = list(params)
        self.positions: dict[str, list[int]] = {}
        for name, value in slots.items():
            found = [i for i, p in enumerate(params) if type(p) is type(value) and p == value]
            if not found or str(value) in sql:
                raise ValueError(f"slot {name} is not one of the query's parameters")
            self.positions[name] = found
        fields = [selected[0] for selected in compiler.select[: compiler.col_count]]
        self.converters = list(compiler.get_converters(fields).items())
        query = queryset.query  # the names as ValuesIterable gives them
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

    def rows(self, **values: Any) -> list[tuple]:
        """The rows as `values_list` gives them."""
        params = self.params.copy()
        for name, positions in self.positions.items():
            for position in positions:
                params[position] = values[name]
        connection = connections[self.alias]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if not self.converters:
            return rows
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
        names = self.names
        return [dict(zip(names, row, strict=True)) for row in self.rows(**values)]
