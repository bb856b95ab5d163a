"""Pagination: bounded pages everywhere; cursor pagination for tickets (no COUNT(*))."""

import json
from collections.abc import Callable, Collection, Hashable, Sequence
from datetime import date, datetime
from functools import partial
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import connections, router
from django.db.models import F, Field, Q, QuerySet
from django.db.models.expressions import OrderBy
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination, PageNumberPagination, _reverse_ordering
from rest_framework.request import Request

from servicedesk.statements import fetch


class DefaultPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def order_expression(field: str) -> OrderBy:
    """`field` or `-field` with PostgreSQL's NULL placement (last ascending, first descending)
    spelt out, so that SQLite pages the same way and a reversed order is the exact reverse."""
    if field.startswith("-"):
        return F(field[1:]).desc(nulls_first=True)
    return F(field).asc(nulls_last=True)


def ordering_fields(ordering: Sequence[str | OrderBy]) -> list[tuple[str, bool]]:
    """(field name, descending) of each key of an order_by, given as names or expressions."""
    fields = []
    for key in ordering:
        if isinstance(key, OrderBy):
            fields.append((key.expression.name, key.descending))
        else:
            fields.append((key.lstrip("-"), key.startswith("-")))
    return fields


def key_field(queryset: QuerySet, name: str) -> Field:
    """The field of an ordering key: the model's, or an annotation's (tickets.ranks)."""
    annotation = queryset.query.annotations.get(name)
    if annotation is not None:
        return annotation.output_field
    return queryset.model._meta.get_field(name)


def after(queryset: QuerySet, ordering: Sequence[str], position: Sequence[Any]) -> list[Q]:
    """The rows that come after `position` (a value per ordering key) in `ordering`, as
    segments that follow one another in that order, each a range of an index on the keys:
    `created_at <= v AND (created_at < v OR (created_at = v AND id < i))`. An empty first key
    makes two: ascending, the rows from v on, then the empty ones (NULLs come last); descending
    from an empty one, the empty ones left, then all the others (NULLs come first)."""
    keys = [
        (name, descending, value, key_field(queryset, name).null)
        for (name, descending), value in zip(ordering_fields(ordering), position, strict=True)
    ]
    rest: Q | None = None  # after position on the keys but the first; None: no row
    for name, descending, value, nullable in reversed(keys[1:]):
        beyond = strictly_after(name, descending, value, nullable)
        tied = _equal(name, value) & rest if rest is not None else None
        rest = beyond | tied if beyond is not None and tied is not None else beyond or tied
    name, descending, value, nullable = keys[0]
    tied_first = _equal(name, value) & rest if rest is not None else None
    if value is None:
        segments = [tied_first] if tied_first is not None else []
        if descending:
            segments.append(Q(**{f"{name}__isnull": False}))
        return segments
    bound = Q(**{f"{name}__lte" if descending else f"{name}__gte": value})
    beyond = Q(**{f"{name}__lt" if descending else f"{name}__gt": value})
    segments = [bound & (beyond | tied_first) if tied_first is not None else beyond]
    if nullable and not descending:
        segments.append(Q(**{f"{name}__isnull": True}))
    return segments


def _equal(name: str, value: Any) -> Q:
    return Q(**{f"{name}__isnull": True}) if value is None else Q(**{name: value})


def strictly_after(name: str, descending: bool, value: Any, nullable: bool) -> Q | None:
    if value is None:  # NULLs come last ascending, first descending
        return Q(**{f"{name}__isnull": False}) if descending else None
    beyond = Q(**{f"{name}__lt" if descending else f"{name}__gt": value})
    if nullable and not descending:
        beyond |= Q(**{f"{name}__isnull": True})
    return beyond


def cursor_value(value: Any) -> str:
    """A time in a cursor to the microsecond (DjangoJSONEncoder keeps milliseconds)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} in a cursor")


def rows_after(
    rows: "QuerySet | CompiledRows",
    ordering: Sequence[str],
    position: Sequence[Any] | None,
    limit: int,
) -> list[Any]:
    """The first `limit` rows in `ordering` after `position` (None: from the first), read
    segment by segment (`after`)."""
    segments = 1 if position is None else len(after(rows, ordering, position))
    results: list[Any] = []
    for index in range(segments):
        wanted = limit - len(results)
        if wanted <= 0:
            break
        if isinstance(rows, CompiledRows):
            results += rows.segment(ordering, position, index, wanted)
        else:
            results += list(_segment(rows, ordering, position, index)[:wanted])
    return results


def _segment(
    queryset: QuerySet, ordering: Sequence[str], position: Sequence[Any] | None, index: int
) -> QuerySet:
    """The `index`-th segment of the rows after `position`, in `ordering`."""
    queryset = queryset.order_by(*(order_expression(key) for key in ordering))
    if position is None:
        return queryset
    return queryset.filter(after(queryset, ordering, position)[index])


def cursor_slots(position: Sequence[Any] | None) -> tuple[tuple[bool, ...] | None, dict[str, Any]]:
    """A cursor's position as a compiled page takes it: which of its values are empty (part of
    the statement's shape: an empty value changes the segments' conditions) and the others, bound
    as `after_0`, `after_1`, ... (`CompiledRows._segment` reads them back)."""
    empty = None if position is None else tuple(value is None for value in position)
    cursor = {f"after_{i}": value for i, value in enumerate(position or ()) if value is not None}
    return empty, cursor


class CompiledRows:
    """A values() queryset as KeysetCursorPagination pages it, each page read by a statement
    compiled once per shape (servicedesk.statements.fetch): building and compiling a page's
    queryset took as long as PostgreSQL spent reading it (issue #6).

    `build(ordering, **values)` makes the queryset (with any annotation `ordering` names) from
    `values` (ids, times, texts); `shape` holds everything else it depends on (which filters,
    how many ids). The values named in `planned_for` (all unless given) are written into each
    page's SQL, so that PostgreSQL plans for them (`fetch`): a plan kept for any agent read a
    busy one's closed tickets in 70 ms, not 1, at 1M tickets; the others and the cursor's
    values are bound. `fields` is a queryset of the same model and annotations, for the
    ordering keys' fields (`key_field`)."""

    def __init__(
        self,
        shape: Hashable,
        build: Callable[..., QuerySet],
        values: dict[str, Any],
        fields: QuerySet,
        planned_for: Collection[str] | None = None,
        branches: Callable[..., list[QuerySet]] | None = None,
    ) -> None:
        self.shape, self.build, self.values = shape, build, values
        self.planned_for = tuple(values if planned_for is None else planned_for)
        self.branches = branches
        self.model, self.query = fields.model, fields.query

    def segment(
        self, ordering: Sequence[str], position: Sequence[Any] | None, index: int, limit: int
    ) -> list[dict[str, Any]]:
        """`_segment(...)[:limit]` of the built queryset. The cursor's values are bound too;
        which of them are empty changes the segments' conditions, so it is in the key."""
        empty, cursor = cursor_slots(position)
        build = partial(self._segment, tuple(ordering), empty, index, limit)
        key = ("rows", self.shape, tuple(ordering), empty, index, limit)
        return fetch(key, build, written_in=self.planned_for, **self.values, **cursor)

    def _segment(
        self,
        ordering: tuple[str, ...],
        empty: tuple[bool, ...] | None,
        index: int,
        limit: int,
        **values: Any,
    ) -> QuerySet:
        position = None
        if empty is not None:
            position = [None if none else values[f"after_{i}"] for i, none in enumerate(empty)]
        if (
            self.branches is None
            or connections[router.db_for_read(self.model)].vendor != "postgresql"
        ):
            return _segment(self.build(ordering, **values), ordering, position, index)[:limit]
        parts = [
            _segment(branch, ordering, position, index)[:limit]
            for branch in self.branches(ordering, **values)
        ]
        if len(parts) == 1:
            return parts[0]
        merged = parts[0].union(*parts[1:], all=True)
        return merged.order_by(*(order_expression(key) for key in ordering))[:limit]


class KeysetCursorPagination(CursorPagination):
    """DRF's cursor pagination with the last row's value of every ordering key in the cursor,
    in place of the first key's value and an offset. DRF's offset counts the rows sharing that
    value and gives up at 1,000 of them (a priority or status shared by a million tickets), and
    DRF wrote an empty due time into the cursor as "None" and failed on it (a 500)."""

    def paginate_queryset(
        self, queryset: QuerySet, request: Request, view: object = None
    ) -> list[Any] | None:
        self.request = request
        self.page_size = self.get_page_size(request)
        if not self.page_size:
            return None
        self.base_url = request.build_absolute_uri()
        self.ordering = self.get_ordering(request, queryset, view)
        self.cursor = self.decode_cursor(request)
        reverse = bool(self.cursor and self.cursor.reverse)
        current = self.cursor.position if self.cursor else None
        ordering = _reverse_ordering(self.ordering) if reverse else self.ordering
        position = None if current is None else self._decode_position(queryset, current)
        results = rows_after(queryset, ordering, position, self.page_size + 1)
        self.page = results[: self.page_size]
        following = None
        if len(results) > len(self.page):
            following = self._get_position_from_instance(results[-1], self.ordering)
        if reverse:
            self.page.reverse()
            self.has_next, self.has_previous = current is not None, following is not None
            self.next_position, self.previous_position = current, following
        else:
            self.has_next, self.has_previous = following is not None, current is not None
            self.next_position, self.previous_position = following, current
        if (self.has_previous or self.has_next) and self.template is not None:
            self.display_page_controls = True
        return self.page

    def _get_position_from_instance(self, instance: Any, ordering: Sequence[str]) -> str:
        values = [
            instance[name] if isinstance(instance, dict) else getattr(instance, name)
            for name, _descending in ordering_fields(ordering)
        ]
        return json.dumps(values, default=cursor_value, separators=(",", ":"))

    def _decode_position(self, queryset: QuerySet, position: str) -> list[Any]:
        """The cursor's values as the ordering fields' Python values; a cursor that was not
        ours (edited, or from before this format) is DRF's "Invalid cursor", a 404."""
        try:
            values = json.loads(position)
            fields: list[Field] = [
                key_field(queryset, name) for name, _descending in ordering_fields(self.ordering)
            ]
            if not isinstance(values, list) or len(values) != len(fields):
                raise ValueError(position)
            return [
                None if value is None else field.to_python(value)
                for field, value in zip(fields, values, strict=True)
            ]
        except (ValueError, TypeError, ValidationError, FieldDoesNotExist):
            raise NotFound(self.invalid_cursor_message) from None


class TicketCursorPagination(KeysetCursorPagination):
    """Orders by the list's `ordering` parameter (default newest first), always ending on id."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-created_at", "-id")

    def get_ordering(self, request: Request, queryset: object, view: object) -> tuple[str, ...]:
        ordering = tuple(super().get_ordering(request, queryset, view))
        if not any(field.lstrip("-") == "id" for field in ordering):
            # A unique last key keeps cursors exact when many rows share a value.
            ordering += ("-id" if ordering[0].startswith("-") else "id",)
        return ordering


class TimelineCursorPagination(KeysetCursorPagination):
    """A ticket's events, oldest first; fixed order whatever the view's ordering filter says."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("at", "id")

    def get_ordering(self, request: Request, queryset: object, view: object) -> tuple[str, ...]:
        return self.ordering


class CreatedCursorPagination(TimelineCursorPagination):
    """A ticket's comments and attachments, oldest first."""

    ordering = ("created_at", "id")
