"""Page forms of the suggestion box and the improvement-action board.

They check the shape of the input; the services decide (their `InvalidInput.fields` are put
back next to the fields by `apply_service_errors`).
"""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from departments.models import Department, User
from servicedesk.errors import DomainError

from .actions import next_stage
from .models import ImprovementAction, Suggestion

SOURCE_SEPARATOR = ":"


class ServiceErrorsMixin:
    # Service field paths that a page form shows under another name.
    FIELD_ALIASES: dict[str, str] = {}

    def apply_service_errors(self, error: DomainError) -> None:
        fields = getattr(error, "fields", None) or error.extra.get("fields") or {}
        if not fields:
            self.add_error(None, error.detail)  # type: ignore[attr-defined]
            return
        for path, messages in fields.items():
            field = self.FIELD_ALIASES.get(path, path)
            if field not in self.fields:  # type: ignore[attr-defined]
                field = None
            for message in messages:
                self.add_error(field, message)  # type: ignore[attr-defined]


class SuggestionForm(ServiceErrorsMixin, forms.Form):
    department = forms.ModelChoiceField(
        label=_("To department"),
        queryset=Department.objects.filter(is_active=True).order_by("name"),
        empty_label=_("Choose a department"),
    )
    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(
        label=_("Your suggestion"), max_length=5000, widget=forms.Textarea(attrs={"rows": 5})
    )
    anonymous = forms.BooleanField(
        label=_("Send anonymously"),
        required=False,
        widget=forms.CheckboxInput(attrs={"aria-describedby": "anonymous-explain"}),
    )


class SuggestionAnswerForm(ServiceErrorsMixin, forms.Form):
    status = forms.ChoiceField(label=_("Status"))
    answer = forms.CharField(
        label=_("Public answer"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, suggestion: Suggestion, next_statuses: list[str], **kwargs: Any):
        kwargs.setdefault("initial", {"status": suggestion.status, "answer": suggestion.answer})
        kwargs.setdefault("prefix", f"s{suggestion.pk}")
        super().__init__(*args, **kwargs)
        labels = dict(Suggestion.Status.choices)
        allowed = [suggestion.status, *next_statuses]
        self.fields["status"].choices = [(value, labels[value]) for value in allowed]


class ImprovementActionForm(ServiceErrorsMixin, forms.Form):
    FIELD_ALIASES = {"source_type": "source", "source_id": "source"}

    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("What will change"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=int)
    source = forms.ChoiceField(label=_("Prompted by"))
    stage = forms.ChoiceField(label=_("Stage"), required=False)
    due_date = forms.DateField(
        label=_("Due date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    metric = forms.CharField(label=_("Metric to watch"), max_length=200, required=False)
    baseline = forms.DecimalField(
        label=_("Value before"), max_digits=12, decimal_places=2, required=False
    )
    result = forms.DecimalField(
        label=_("Value after"), max_digits=12, decimal_places=2, required=False
    )

    def __init__(
        self,
        *args: Any,
        owners: list[User],
        sources: list[tuple[str, list[tuple[str, str]]]],
        action: ImprovementAction | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", _("Choose an owner"))] + [
            (user.pk, user.get_full_name() or user.username) for user in owners
        ]
        self.fields["source"].choices = [("", _("Choose what prompted it")), *sources]
        stages = dict(ImprovementAction.Stage.choices)
        if action is None:
            del self.fields["stage"]
        else:
            following = next_stage(action.stage)
            self.fields["stage"].choices = [
                (action.stage, stages[action.stage]),
                (following, stages[following]),
            ]

    def clean_source(self) -> tuple[str, int]:
        raw = self.cleaned_data["source"]
        source_type, _sep, source_id = raw.partition(SOURCE_SEPARATOR)
        return source_type, int(source_id)

    def service_fields(self) -> dict[str, Any]:
        """The cleaned values as `save_improvement_action` keywords."""
        data = dict(self.cleaned_data)
        source_type, source_id = data.pop("source")
        data["source_type"], data["source_id"] = source_type, source_id
        data["owner"] = User.objects.get(pk=data["owner"])
        if not data.get("stage"):
            data.pop("stage", None)
        return data


def source_value(source_type: str, source_id: int) -> str:
    return f"{source_type}{SOURCE_SEPARATOR}{source_id}"
