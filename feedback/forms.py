"""The survey answer form: two 1–7 scales per SERVQUAL item, two Kano answers per feature.

The form checks only that each question got one of its answers (so a missing answer is named
next to its question); `feedback.surveys.submit_response` is the one place answers are
validated for good, and its `InvalidInput` field paths (`answers[2].perception`) are mapped back
onto these fields by `apply_service_errors`.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from servicedesk.errors import InvalidInput

from .models import Survey, SurveyAnswer, SurveyItem
from .questionnaires import (
    dimension_label,
    display_text,
    kano_dysfunctional_text,
    kano_functional_text,
)

SCALE = [(str(n), str(n)) for n in range(1, 8)]
SERVQUAL_PARTS = ("expectation", "perception")
KANO_PARTS = ("functional", "dysfunctional")

_ANSWER_PATH = re.compile(r"^answers\[(\d+)\]\.(\w+)$")


def field_name(item_key: str, part: str) -> str:
    return f"{item_key}-{part}"


@dataclass
class ItemRow:
    """One question as the page shows it: its text and its bound answer fields."""

    item: SurveyItem
    text: str
    number: int
    fields: list[forms.BoundField] = field(default_factory=list)


@dataclass
class DimensionGroup:
    dimension: str
    label: str
    rows: list[ItemRow] = field(default_factory=list)


def kano_questions(item: SurveyItem) -> tuple[str, str, str]:
    """The feature and its functional / dysfunctional question (standard wording when blank)."""
    return display_text(item), kano_functional_text(item), kano_dysfunctional_text(item)


class SurveyAnswerForm(forms.Form):
    def __init__(self, *args: Any, survey: Survey, items: list[SurveyItem], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.survey = survey
        self.items = items
        self.is_servqual = survey.kind == Survey.Kind.SERVQUAL
        self.groups: list[DimensionGroup] = []
        self.rows: list[ItemRow] = []
        for item in items:
            if self.is_servqual:
                text = display_text(item)
                labels = {
                    "expectation": _("Expectation: an excellent internal service would do this"),
                    "perception": _("Perception: this department does this"),
                }
                for part in SERVQUAL_PARTS:
                    self.fields[field_name(item.key, part)] = forms.ChoiceField(
                        label=labels[part],
                        choices=SCALE,
                        widget=forms.RadioSelect,
                        error_messages={
                            "required": _("Choose a number from 1 to 7."),
                            "invalid_choice": _("Choose a number from 1 to 7."),
                        },
                    )
            else:
                text, functional, dysfunctional = kano_questions(item)
                labels = {"functional": functional, "dysfunctional": dysfunctional}
                for part in KANO_PARTS:
                    self.fields[field_name(item.key, part)] = forms.ChoiceField(
                        label=labels[part],
                        choices=SurveyAnswer.KanoAnswer.choices,
                        widget=forms.RadioSelect,
                        error_messages={
                            "required": _("Choose one answer."),
                            "invalid_choice": _("Choose one of the answers."),
                        },
                    )
            parts = SERVQUAL_PARTS if self.is_servqual else KANO_PARTS
            row = ItemRow(
                item,
                text,
                len(self.rows) + 1,
                [self[field_name(item.key, part)] for part in parts],
            )
            self.rows.append(row)
            if self.is_servqual:
                if not self.groups or self.groups[-1].dimension != item.dimension:
                    self.groups.append(
                        DimensionGroup(item.dimension, dimension_label(item.dimension))
                    )
                self.groups[-1].rows.append(row)

    def answers(self) -> list[dict[str, Any]]:
        """The answers in the shape `submit_response` takes (DESIGN: surveys/{id}/responses/)."""
        out: list[dict[str, Any]] = []
        for item in self.items:
            if self.is_servqual:
                out.append(
                    {
                        "item": item.key,
                        "expectation": int(self.cleaned_data[field_name(item.key, "expectation")]),
                        "perception": int(self.cleaned_data[field_name(item.key, "perception")]),
                    }
                )
            else:
                out.append(
                    {
                        "item": item.key,
                        "functional": self.cleaned_data[field_name(item.key, "functional")],
                        "dysfunctional": self.cleaned_data[field_name(item.key, "dysfunctional")],
                    }
                )
        return out

    def apply_service_errors(self, error: InvalidInput) -> None:
        """Put each message the service gave next to the question it is about."""
        for path, messages in error.fields.items():
            target: str | None = None
            match = _ANSWER_PATH.match(path)
            if match and int(match.group(1)) < len(self.items):
                name = field_name(self.items[int(match.group(1))].key, match.group(2))
                target = name if name in self.fields else None
            for message in messages:
                self.add_error(target, message)

    def error_links(self) -> list[tuple[str, str]]:
        """(fieldset id, "number. question") of each unanswered or wrong question, for the
        error summary's links."""
        return [
            (f"q-{bound.html_name}", f"{row.number}. {bound.label}")
            for row in self.rows
            for bound in row.fields
            if bound.errors
        ]
