from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any, ClassVar

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Model, Q, QuerySet
from django.utils import translation
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.views import APIView

from departments.models import Department
from departments.selectors import provider_department_ids
from servicedesk.pagination import CompiledRows

from . import selectors
from .models import Priority, Status, Ticket
from .ranks import RANKED, Rank, rank_name
from .search import matching, search_term


class ChoiceInFilter(django_filters.BaseInFilter, django_filters.ChoiceFilter):
    """`?status=new,assigned`: each comma-separated value must be one of the choices."""


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, compared in UTC: Python accepts offsets up to ±23:59 but PostgreSQL
    refuses more than ±15:59 (a 500 before), and a time at the calendar's edge must not
    overflow."""

    def to_python(self, value: object) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class KnownDepartmentField(django_filters.fields.ModelChoiceField):
    """A department by id. One in `known`, departments this request has already read (the
    caller's own provider departments, loaded with their roles), is taken without looking it
    up again; any other id is checked as usual (unknown: 400)."""

    known: frozenset[int] = frozenset()

    def to_python(self, value: Any) -> Any:
        digits = isinstance(value, str) and value.isascii() and value.isdigit()
        if digits and int(value) in self.known:
            return self.queryset.model(pk=int(value))
        return super().to_python(value)


class ProviderDepartmentFilter(django_filters.ModelChoiceFilter):
    field_class = KnownDepartmentField


class TicketFilter(django_filters.FilterSet):
    status = ChoiceInFilter(
        field_name="status",
        lookup_expr="in",
        choices=Status.choices,
        help_text="Comma-separated statuses.",
    )
    priority = ChoiceInFilter(
        field_name="priority",
        lookup_expr="in",
        choices=Priority.choices,
        help_text="Comma-separated priorities.",
    )
    breached = django_filters.BooleanFilter(
        method="filter_breached", help_text="true: response or resolution breached."
    )
    search = django_filters.CharFilter(
        method="filter_search", help_text="Reference, or words in the title."
    )
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    # An agent's list of their own department's tickets needs no query to check the department.
    provider_department = ProviderDepartmentFilter(queryset=Department.objects.all())

    class Meta:
        model = Ticket
        fields = ["provider_department", "requester_department", "assignee", "service", "requester"]

    # Form classes built so far, per language (their labels are translated).
    _form_classes: ClassVar[dict[str, type[forms.Form]]] = {}

    def get_form_class(self) -> type[forms.Form]:
        # Once per language, not per request: building the eleven fields took a millisecond of
        # every list request (issue #6). Each form still gets its own copies of the fields.
        language = translation.get_language() or ""
        form_class = self._form_classes.get(language)
        if form_class is None:
            form_class = self._form_classes[language] = super().get_form_class()
        return form_class

    @property
    def form(self) -> forms.Form:
        form = super().form
        if self.request is not None:
            _know_departments(form, self.request)
        return form

    def filter_breached(self, qs: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return qs
        breached = Q(response_breached=True) | Q(resolution_breached=True)
        return qs.filter(breached) if value else qs.exclude(breached)

    def filter_search(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        term = search_term(value)
        return qs.filter(matching(term)) if term else qs


def _know_departments(form: forms.Form, request: Request) -> None:
    """Hands the form's provider_department field the caller's own provider departments."""
    field = form.fields.get("provider_department")  # absent from `named_filters`' forms
    if field is not None and not field.known:
        field.known = provider_department_ids(request.user)


def named_filters(request: Request) -> dict[str, Any]:
    """The cleaned values of the TicketFilter filters the request names, validated as
    DjangoFilterBackend validates them: a value one of them refuses is its 400, naming it.

    By a form of those filters' fields alone: the others would filter nothing and accept their
    absence, so the errors are the whole filter set's. Copying all eleven filters and their
    form fields for each request took half a millisecond of a filtered list (issue #6)."""
    data = request.query_params
    names = tuple(name for name in TicketFilter.base_filters if name in data)
    if not names:
        return {}
    form = _filter_set(names).get_form_class()(data)
    _know_departments(form, request)
    if not form.is_valid():
        raise translate_validation(form.errors)
    return form.cleaned_data


def apply_filters(queryset: QuerySet, cleaned: dict[str, Any]) -> QuerySet:
    """`queryset` filtered by `named_filters`' values, as FilterSet.filter_queryset does."""
    filters = _filter_set(tuple(cleaned)).filters
    for name, value in cleaned.items():
        queryset = filters[name].filter(queryset, value)
    return queryset


@lru_cache(maxsize=256)
def _filter_set(names: tuple[str, ...]) -> TicketFilter:
    """An unbound TicketFilter with only the filters `names` and its own form classes, shared
    by the requests naming them: its filters and methods keep nothing of a request."""
    subset = type(TicketFilter.__name__, (TicketFilter,), {"_form_classes": {}})
    subset.base_filters = {name: TicketFilter.base_filters[name] for name in names}
    return subset(queryset=Ticket.objects.none())


class TicketFilterBackend(DjangoFilterBackend):
    """TicketFilter, with only the filters the request names (`named_filters`): none, and
    the queryset is returned unchanged (building an empty filter set's form took half a
    millisecond of every unfiltered list, cursor page and detail; issue #6)."""

    def filter_queryset(self, request: Request, queryset: QuerySet, view: APIView) -> QuerySet:
        return apply_filters(queryset, named_filters(request))


class TicketOrderingFilter(OrderingFilter):
    """`?ordering=` as DRF's, except that priority and status order by rank (tickets.ranks):
    `priority` most urgent first, `status` in the workflow's order, `-` the reverse. The
    cursor pagination asks it for the ordering too, so cursors hold ranks."""

    def get_ordering(self, request: Request, queryset: QuerySet, view: APIView) -> list[str]:
        ordering = super().get_ordering(request, queryset, view) or []
        ranked = []
        for term in ordering:
            column = term.lstrip("-")
            ranked.append(term.replace(column, rank_name(column)) if column in RANKED else term)
        return ranked

    def filter_queryset(self, request: Request, queryset: QuerySet, view: APIView) -> QuerySet:
        ordering = self.get_ordering(request, queryset, view)
        queryset = ranked(queryset, ordering)
        return queryset.order_by(*ordering) if ordering else queryset


def ranked(queryset: QuerySet, ordering: Sequence[str]) -> QuerySet:
    """`queryset` with the ranks (tickets.ranks) that `ordering` orders by."""
    ranks = {
        rank_name(column): Rank(column)
        for column in RANKED
        if any(term.lstrip("-") == rank_name(column) for term in ordering)
    }
    return queryset.annotate(**ranks) if ranks else queryset


def filtered_ticket_rows(request: Request, *, search: bool = True) -> CompiledRows:
    """`selectors.visible_ticket_rows` as TicketFilterBackend and TicketOrderingFilter filter
    and order it, for KeysetCursorPagination; not `search`: without `?search=`, which
    tickets.search pages. Each page is read by a statement compiled once per shape: which
    filters with how many values, and how many departments the user heads and provides for;
    building and compiling the page's query took as long as reading it (issue #6)."""
    cleaned = named_filters(request)  # the search's text validated too (no NUL: a 400)
    if not search:
        cleaned.pop("search", None)
    visibility, values = selectors.ticket_row_visibility(request.user)
    shapes = []
    for name, value in cleaned.items():
        shape, bound = _filter_slots(name, value)
        shapes.append(shape)
        values |= bound

    def filtered(rows: QuerySet, ordering: Sequence[str], values: dict[str, Any]) -> QuerySet:
        stand_ins = {shape[0]: _filter_value(shape, values) for shape in shapes}
        return ranked(apply_filters(rows, stand_ins), ordering)

    def build(ordering: Sequence[str], **values: Any) -> QuerySet:
        return filtered(selectors.visible_ticket_rows_of(visibility, values), ordering, values)

    def branches(ordering: Sequence[str], **values: Any) -> list[QuerySet]:
        parts = selectors.visible_ticket_row_branches_of(visibility, values)
        return [filtered(part, ordering, values) for part in parts]

    # Written into the SQL: the departments and the filters' values, whose share of the tickets
    # varies (servicedesk.statements.fetch); bound: the viewer's id, so that PostgreSQL keeps
    # one plan for every viewer of the same departments instead of one per person.
    planned_for = [name for name in values if name != "user_id"]
    shape = ("tickets", visibility, tuple(shapes))
    return CompiledRows(shape, build, values, _ordering_fields(), planned_for, branches=branches)


def _filter_slots(name: str, value: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A filter's cleaned value as a shape and the values bound at each run, those its lookup
    binds as they are: the choices of a list, a model's id, a time. Any other value is the
    shape's: None, True, False, and a search's text, of which a LIKE pattern is bound (a
    stand-in's pattern would stay in the statement)."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        items = list(dict.fromkeys(value))  # `in` takes a repeated value once
        return (name, list, len(items)), {f"{name}_{i}": item for i, item in enumerate(items)}
    if isinstance(value, Model):
        return (name, type(value)), {name: value.pk}
    if isinstance(value, datetime):
        return (name, datetime), {name: value}
    return (name, None, tuple(value) if isinstance(value, list) else value), {}


def _filter_value(shape: tuple[Any, ...], values: dict[str, Any]) -> Any:
    """The value of a filter of `shape`, from the values (or their stand-ins) bound."""
    name, kind, *rest = shape
    if kind is list:
        return [values[f"{name}_{i}"] for i in range(rest[0])]
    if kind is None:
        return list(rest[0]) if isinstance(rest[0], tuple) else rest[0]
    if issubclass(kind, Model):
        return kind(pk=values[name])
    return values[name]


@cache
def _ordering_fields() -> QuerySet:
    """Tickets with every rank: the fields an ordering's keys are (servicedesk.pagination)."""
    return Ticket.objects.annotate(**{rank_name(column): Rank(column) for column in RANKED})
