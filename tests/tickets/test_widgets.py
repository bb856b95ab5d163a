"""The agent pages' select widget writes Django's stock select markup byte for byte."""

import pytest
from django import forms
from django.utils import translation
from django.utils.safestring import mark_safe

from tickets.models import Priority
from tickets.widgets import OnePassSelect

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
