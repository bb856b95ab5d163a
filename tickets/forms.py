"""Page forms for the portal: they collect input; the services validate it and say what is wrong.

The request form is built from a service's `form_schema`. Its answer fields are permissive on
purpose (no Django-side type checks): `file_ticket` is the one place answers are validated, and
its `InvalidInput.fields` are mapped back onto these fields by `apply_service_errors`.
"""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from servicedesk.errors import InvalidInput

from .models import Priority, Service
from .widgets import (
    OnePassCheckboxInput,
    OnePassFileInput,
    OnePassSelect,
    OnePassTextarea,
    OnePassTextInput,
)

ANSWER_PREFIX = "answer_"


def answer_field_name(key: str) -> str:
    return f"{ANSWER_PREFIX}{key}"


def _answer_field(spec: dict[str, Any]) -> forms.Field:
    label = spec.get("label") or spec["key"]
    attrs = {"required": True} if spec.get("required") else {}
    kind = spec.get("type")
    if kind == "textarea":
        widget: forms.Widget = forms.Textarea(attrs={**attrs, "rows": 4})
    elif kind == "number":
        widget = forms.TextInput(attrs={**attrs, "inputmode": "decimal"})
    elif kind == "date":
        widget = forms.DateInput(attrs={**attrs, "type": "date"})
    elif kind == "choice":
        choices = [("", "—")] + [(c, c) for c in spec.get("choices", [])]
        # Any posted value is kept and handed to the service, which names a bad choice.
        return forms.CharField(
            label=label, required=False, widget=forms.Select(attrs=attrs, choices=choices)
        )
    else:
        widget = forms.TextInput(attrs=attrs)
    return forms.CharField(label=label, required=False, strip=False, widget=widget)


class TicketRequestForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 5})
    )
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)
    attachment = forms.FileField(label=_("Attachment"), required=False)

    def __init__(self, *args: Any, service: Service, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.service = service
        self.fields["priority"].initial = service.default_priority
        self.answer_fields: list[str] = []
        for spec in service.form_schema or []:
            name = answer_field_name(spec["key"])
            self.fields[name] = _answer_field(spec)
            self.answer_fields.append(name)

    def answers(self) -> dict[str, Any]:
        """The answers the user gave, keyed by schema key (blank answers left out)."""
        out: dict[str, Any] = {}
        for spec in self.service.form_schema or []:
            value = self.cleaned_data.get(answer_field_name(spec["key"]))
            if value is not None and str(value).strip():
                out[spec["key"]] = value
        return out

    def apply_service_errors(self, error: InvalidInput) -> None:
        """Put each message a service gave next to the field it is about."""
        for path, messages in error.fields.items():
            field: str | None
            if path.startswith("form_data."):
                field = answer_field_name(path.removeprefix("form_data."))
            elif path == "file":
                field = "attachment"
            else:
                field = path
            if field not in self.fields:
                field = None
            for message in messages:
                self.add_error(field, message)

    def answer_bound_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.answer_fields]

    def base_bound_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("title", "description", "priority")]


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Reply"), widget=OnePassTextarea(attrs={"rows": 4}))
    internal = forms.BooleanField(
        label=_("Internal note (provider only)"), required=False, widget=OnePassCheckboxInput
    )
    attachment = forms.FileField(label=_("Attachment"), required=False, widget=OnePassFileInput)

    def __init__(self, *args: Any, provider_side: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not provider_side:
            del self.fields["internal"]

    def apply_service_errors(self, error: InvalidInput) -> None:
        for path, messages in error.fields.items():
            field = {"file": "attachment"}.get(path, path)
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


class TicketEditForm(forms.Form):
    """The requester's edit of title and description while the ticket is new."""

    title = forms.CharField(label=_("Title"), max_length=200, widget=OnePassTextInput)
    description = forms.CharField(
        label=_("Description"), required=False, widget=OnePassTextarea(attrs={"rows": 4})
    )


class TicketUpdateForm(forms.Form):
    """The provider's assign / priority form."""

    priority = forms.ChoiceField(
        label=_("Priority"), choices=Priority.choices, widget=OnePassSelect
    )
    assignee = forms.TypedChoiceField(
        label=_("Assignee"), coerce=int, required=False, empty_value=None, widget=OnePassSelect
    )

    def __init__(self, *args: Any, agents: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", "—"), *agents]
