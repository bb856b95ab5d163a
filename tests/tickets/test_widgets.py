"""The agent pages' select widget writes Django's stock select markup byte for byte."""

import pytest
from django import forms
from django.utils import translation
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from tickets.models import Priority
from tickets.widgets import OnePassCheckLabels, OnePassSelect

CASES = [
    pytest.param(Priority.choices, "high", {"id": "id_priority"}, id="chosen"),
    pytest.param(
        [("", 'Any <x> & "y"'), ("1", "a'b"), (2, 3), (1234567, "big")],
        1234567,
        {"id": "x", "required": True, "disabled": False, "data-note": 'a"b<c>'},
        id="escaping-numbers-and-flags",
    ),
    pytest.param(
        [("G<1>", [("a", "A"), ("b", mark_safe("<b>B</b>"))]), ("c", "C")],
        "b",
        None,
        id="optgroups-and-safe-labels",
    ),
    pytest.param([], None, None, id="empty"),
]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize(("choices", "value", "attrs"), CASES)
def test_select_markup_is_the_stock_widgets(language, choices, value, attrs):
    with translation.override(language):
        drawn = OnePassSelect(choices=choices).render("pick<one>", value, attrs)
        stock = forms.Select(choices=choices).render("pick<one>", value, attrs)
    assert drawn == stock


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize(
    "data",
    [{}, {"pick": ["a", "2"]}, {"pick": ["nonsense"]}],
    ids=["none", "two-chosen", "invalid-marked"],
)
def test_check_labels_are_the_stock_checkboxes_each_in_its_label(language, data):
    choices = [("a", 'A <x> & "y"'), ("2", "二"), ("c", mark_safe("<b>C</b>"))]

    def form(widget: type[forms.Widget]) -> forms.Form:
        field = forms.MultipleChoiceField(choices=choices, required=False, widget=widget)
        return type("PickForm", (forms.Form,), {"pick": field})(data)

    with translation.override(language):
        drawn = str(form(OnePassCheckLabels)["pick"])
        stock = form(forms.CheckboxSelectMultiple)
        stock.is_valid()
        boxes = "".join(
            format_html('<label class="check">{} {}</label>', box.tag(), box.choice_label)
            for box in stock["pick"]
        )
    assert drawn == boxes
    assert ('aria-invalid="true"' in drawn) is (data == {"pick": ["nonsense"]})
