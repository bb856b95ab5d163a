"""Forms of the agent's department queue: the filters (a FilterSet) and bulk assignment."""

from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from departments.models import Department, User

from .models import OPEN_STATUSES, Priority, Service, Status
from .widgets import OnePassSelect

UNASSIGNED = "unassigned"
ME = "me"

SORT_RESOLUTION_DUE = "resolution_due"
SORT_RESPONSE_DUE = "response_due"
SORT_CREATED = "created"
SORT_PRIORITY = "priority"
SORT_CHOICES = [
    (SORT_RESOLUTION_DUE, _("Resolve by (soonest first)")),
    (SORT_RESPONSE_DUE, _("Respond by (soonest first)")),
    (SORT_CREATED, _("Created (newest first)")),
    (SORT_PRIORITY, _("Priority (most urgent first)")),
]


class DepartmentPickerForm(forms.Form):
    """Which of the user's provider departments the queue shows."""

    department = forms.TypedChoiceField(
        label=_("Department"), coerce=int, required=False, widget=OnePassSelect
    )

    def __init__(self, *args: Any, departments: list[Department], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [(d.pk, d.name) for d in departments]


class QueueFilter(django_filters.FilterSet):
    """The queue's filters; sort is a field of the form, applied by the view's keyset paging."""

    # No join multiplies rows here, and DISTINCT would make PostgreSQL sort every matching
    # ticket before it can take the first page off the due-time index.
    status = django_filters.MultipleChoiceFilter(
        label=_("Status"),
        choices=Status.choices,
        widget=forms.CheckboxSelectMultiple,
        distinct=False,
    )
    priority = django_filters.ChoiceFilter(
        label=_("Priority"),
        choices=Priority.choices,
        empty_label=_("Any priority"),
        widget=OnePassSelect,
    )
    # Choices from one (id, name) query: a ModelChoiceFilter queried and built Service objects
    # again each time the select was rendered or a value checked.
    service = django_filters.ChoiceFilter(
        label=_("Service"),
        empty_label=_("Any service"),
        widget=OnePassSelect,
        error_messages={
            "invalid_choice": forms.ModelChoiceField.default_error_messages["invalid_choice"]
        },
    )
    assignee = django_filters.ChoiceFilter(
        label=_("Assignee"),
        method="filter_assignee",
        empty_label=_("Anyone"),
        widget=OnePassSelect,
    )
    breached = django_filters.ChoiceFilter(
        label=_("Breached"),
        method="filter_breached",
        choices=[("yes", _("yes")), ("no", _("no"))],
        empty_label=_("Either"),
        widget=OnePassSelect,
    )
    sort = django_filters.ChoiceFilter(
        label=_("Sort by"),
        method="keep",
        choices=SORT_CHOICES,
        empty_label=None,
        widget=OnePassSelect,
    )

    def __init__(
        self,
        data: QueryDict | None = None,
        queryset: QuerySet | None = None,
        *,
        department_id: int,
        agents: list[User],
        user: User,
        **kwargs: Any,
    ):
        data = data.copy() if data is not None else QueryDict(mutable=True)
        # Defaults for a first visit: the open work, most pressing resolution first.
        if not data.getlist("status"):
            data.setlist("status", [str(s) for s in OPEN_STATUSES])
        if not data.get("sort"):
            data["sort"] = SORT_RESOLUTION_DUE
        self.user = user
        super().__init__(data, queryset, **kwargs)
        self.filters["service"].extra["choices"] = [
            (str(pk), name)
            for pk, name in Service.objects.filter(department_id=department_id)
            .order_by("name")
            .values_list("pk", "name")
        ]
        self.filters["assignee"].extra["choices"] = [
            (UNASSIGNED, _("Unassigned")),
            (ME, _("Me")),
            *[(str(agent.pk), agent.get_full_name() or agent.username) for agent in agents],
        ]

    @property
    def chosen_sort(self) -> str:
        if self.is_valid() and self.form.cleaned_data.get("sort"):
            return self.form.cleaned_data["sort"]
        return SORT_RESOLUTION_DUE

    def keep(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs

    def filter_assignee(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if value == UNASSIGNED:
            return qs.filter(assignee__isnull=True)
        if value == ME:
            return qs.filter(assignee_id=self.user.pk)
        if value.isdigit():
            return qs.filter(assignee_id=int(value))
        return qs

    def filter_breached(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        breached = Q(response_breached=True) | Q(resolution_breached=True)
        if value == "yes":
            return qs.filter(breached)
        if value == "no":
            return qs.exclude(breached)
        return qs


class TicketIdsField(forms.Field):
    """The ticked rows: ids only; whether the user may touch them is the selector's business."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        values = value if isinstance(value, list | tuple) else [value] if value else []
        if not all(str(v).isdigit() for v in values):
            raise forms.ValidationError(_("Enter a list of ticket ids."), code="invalid")
        return sorted({int(v) for v in values})[:200]

    def validate(self, value: list[int]) -> None:
        if not value:
            raise forms.ValidationError(_("Select at least one ticket."), code="required")


class BulkAssignForm(forms.Form):
    """Assign the ticked tickets of one provider department to one of its agents."""

    department = forms.IntegerField(widget=forms.HiddenInput)
    assignee = forms.TypedChoiceField(label=_("Assign to"), coerce=int)
    ticket = TicketIdsField()
    query = forms.CharField(required=False, widget=forms.HiddenInput, max_length=2000)

    def __init__(self, *args: Any, agents: list[User], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [
            (agent.pk, agent.get_full_name() or agent.username) for agent in agents
        ]
