from datetime import UTC, datetime

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django_filters.fields import IsoDateTimeField

from .models import Priority, Status, Ticket


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

    class Meta:
        model = Ticket
        fields = ["provider_department", "requester_department", "assignee", "service", "requester"]

    def filter_breached(self, qs: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return qs
        breached = Q(response_breached=True) | Q(resolution_breached=True)
        return qs.filter(breached) if value else qs.exclude(breached)

    def filter_search(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()[:100]
        if not value:
            return qs
        return qs.filter(Q(reference__iexact=value) | Q(title__icontains=value))
