from datetime import UTC, datetime
from typing import Any, ClassVar

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import translation
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.views import APIView

from departments.models import Department
from departments.selectors import provider_department_ids

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
        field = form.fields["provider_department"]
        if self.request is not None and not field.known:
            field.known = provider_department_ids(self.request.user)
        return form

    def filter_breached(self, qs: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return qs
        breached = Q(response_breached=True) | Q(resolution_breached=True)
        return qs.filter(breached) if value else qs.exclude(breached)

    def filter_search(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        term = search_term(value)
        return qs.filter(matching(term)) if term else qs


class TicketFilterBackend(DjangoFilterBackend):
    """TicketFilter, skipped when the request names none of its filters: an empty filter set
    returns the queryset unchanged, after building its form (half a millisecond of every
    unfiltered list, cursor page and detail; issue #6)."""

    def filter_queryset(self, request: Request, queryset: QuerySet, view: APIView) -> QuerySet:
        if not any(name in request.query_params for name in TicketFilter.base_filters):
            return queryset
        return super().filter_queryset(request, queryset, view)

    def get_filterset_kwargs(
        self, request: Request, queryset: QuerySet, view: APIView
    ) -> dict[str, Any]:
        kwargs = super().get_filterset_kwargs(request, queryset, view)
        if getattr(view, "search_apart", False):
            # The view pages through the search itself (tickets.search.SearchPages).
            kwargs["data"] = kwargs["data"].copy()
            kwargs["data"].pop("search", None)
        return kwargs


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
        ranks = {
            rank_name(column): Rank(column)
            for column in RANKED
            if any(term.lstrip("-") == rank_name(column) for term in ordering)
        }
        if ranks:
            queryset = queryset.annotate(**ranks)
        return queryset.order_by(*ordering) if ordering else queryset
