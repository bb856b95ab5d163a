"""Forms of the agent's department queue: the filters and bulk assignment."""

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import translation
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from departments.models import User

from .models import OPEN_STATUSES, Priority, Status
from .widgets import OnePassCheckLabels, OnePassSelect

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


@dataclass(frozen=True)
class QueueDepartment:
    """One of the user's provider departments, as the queue's picker and heading show it."""

    pk: int
    name: str


@dataclass(frozen=True)
class Agent:
    """An agent or head a queue's tickets can be assigned to, as its choices show them."""

    pk: int
    name: str  # `user.get_full_name() or user.username`, as str(user)


class DepartmentPickerForm(forms.Form):
    """Which of the user's provider departments the queue shows."""

    department = forms.TypedChoiceField(
        label=_("Department"), coerce=int, required=False, widget=OnePassSelect
    )

    def __init__(self, *args: Any, departments: list[QueueDepartment], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [(d.pk, d.name) for d in departments]


class QueueFilterForm(forms.Form):
    """The queue's filters; sort is a field of the form, applied by the view's keyset paging.
    The service and assignee choices are the queue's (QueueFilter sets them)."""

    status = forms.MultipleChoiceField(
        label=_("Status"), choices=Status.choices, required=False, widget=OnePassCheckLabels
    )
    priority = forms.ChoiceField(
        label=_("Priority"),
        choices=[("", _("Any priority")), *Priority.choices],
        required=False,
        widget=OnePassSelect,
    )
    service = forms.ChoiceField(
        label=_("Service"),
        required=False,
        widget=OnePassSelect,
        error_messages={
            "invalid_choice": forms.ModelChoiceField.default_error_messages["invalid_choice"]
        },
    )
    assignee = forms.ChoiceField(label=_("Assignee"), required=False, widget=OnePassSelect)
    breached = forms.ChoiceField(
        label=_("Breached"),
        choices=[("", _("Either")), ("yes", _("yes")), ("no", _("no"))],
        required=False,
        widget=OnePassSelect,
    )
    sort = forms.ChoiceField(
        label=_("Sort by"), choices=SORT_CHOICES, required=False, widget=OnePassSelect
    )


# What a filter's data gives (QueueFilter.applied, .chosen_sort, .errors), kept per process under
# all it depends on (`QueueFilter.key`); emptied when full.
OUTCOMES_KEPT = 1024
_outcomes: dict[Hashable, tuple[tuple[tuple[str, Any], ...], str, dict[str, list[str]]]] = {}


class QueueFilter:
    """The queue's filters, read from the query string (with the defaults of a first visit):
    `applied`, the valid values that `filter` narrows tickets by, `chosen_sort`, and `errors`,
    the invalid values' messages (ignored values); `form` shows them.

    A plain form and its filters written out: django-filter's FilterSet deep-copied its filters
    and built a form class at every page, half a millisecond of the queue (issue #6). The form
    itself is built only when needed: what validating it gives is kept by the process under
    the data, the choices and the language (building and validating it was a tenth of the
    page, and agents come back to the same filters)."""

    def __init__(
        self,
        data: QueryDict | None,
        *,
        services: list[tuple[int, str]],
        agents: list[Agent],
    ):
        data = data.copy() if data is not None else QueryDict(mutable=True)
        # Defaults for a first visit: the open work, most pressing resolution first.
        if not data.getlist("status"):
            data.setlist("status", [str(s) for s in OPEN_STATUSES])
        if not data.get("sort"):
            data["sort"] = SORT_RESOLUTION_DUE
        self.data = data
        self.services = services
        self.agents = agents
        self.key: Hashable = (
            translation.get_language(),
            tuple(services),
            tuple(agents),
            tuple((name, tuple(data.getlist(name))) for name in QueueFilterForm.base_fields),
        )
        outcome = _outcomes.get(self.key)
        if outcome is None:
            if len(_outcomes) >= OUTCOMES_KEPT:
                _outcomes.clear()
            outcome = _outcomes[self.key] = self._validated()
        self.applied, self.chosen_sort, self.errors = outcome

    @cached_property
    def form(self) -> QueueFilterForm:
        form = QueueFilterForm(self.data)
        # Choices from (id, name) rows (the department's services, by name): a ModelChoiceField
        # queried and built Service objects again each time the select was rendered or a value
        # checked.
        form.fields["service"].choices = [
            ("", _("Any service")),
            *[(str(pk), name) for pk, name in self.services],
        ]
        form.fields["assignee"].choices = [
            ("", _("Anyone")),
            (UNASSIGNED, _("Unassigned")),
            (ME, _("Me")),
            *[(str(agent.pk), agent.name) for agent in self.agents],
        ]
        return form

    def _validated(self) -> tuple[tuple[tuple[str, Any], ...], str, dict[str, list[str]]]:
        """(applied, chosen_sort, errors) from the form: the valid filter values by field (an
        invalid field is left out of cleaned_data), the sort to page by, the messages."""
        valid = self.form.is_valid()
        values = self.form.cleaned_data
        applied: list[tuple[str, Any]] = []
        if statuses := values.get("status"):
            applied.append(("status", tuple(dict.fromkeys(statuses))))
        for name in ("priority", "service", "assignee", "breached"):
            if value := values.get(name):
                applied.append((name, value))
        sort = values.get("sort") if valid else None
        errors = {name: list(messages) for name, messages in self.form.errors.items()}
        return tuple(applied), sort or SORT_RESOLUTION_DUE, errors

    def filter(self, tickets: QuerySet, *, user_id: int) -> QuerySet:
        """`tickets` narrowed by the valid filter values; "me" is the user `user_id` (a
        compiled statement's stand-in, say)."""
        values = dict(self.applied)
        qs = tickets
        if statuses := values.get("status"):
            # No join multiplies rows here, and DISTINCT would make PostgreSQL sort every
            # matching ticket before it can take the first page off the due-time index.
            any_status = Q()
            for status in statuses:
                any_status |= Q(status=status)
            qs = qs.filter(any_status)
        if priority := values.get("priority"):
            qs = qs.filter(priority=priority)
        if service := values.get("service"):
            qs = qs.filter(service=service)
        if assignee := values.get("assignee"):
            qs = self.filter_assignee(qs, assignee, user_id=user_id)
        if breached := values.get("breached"):
            qs = self.filter_breached(qs, breached)
        return qs

    def filter_assignee(self, qs: QuerySet, value: str, *, user_id: int) -> QuerySet:
        if value == UNASSIGNED:
            return qs.filter(assignee__isnull=True)
        if value == ME:
            return qs.filter(assignee_id=user_id)
        if value.isdigit():
            return qs.filter(assignee_id=int(value))
        return qs

    def filter_breached(self, qs: QuerySet, value: str) -> QuerySet:
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
