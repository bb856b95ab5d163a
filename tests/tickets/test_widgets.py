"""The agent pages' widgets write Django's stock markup byte for byte."""

import pytest
from django import forms
from django.utils import translation
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from tickets import widgets
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
    pytest.param(
        [(None, "none"), ("", [(None, "in a nameless group")]), (0, [("0", "zero")]), ("0", "0")],
        "0",
        None,
        id="none-values-falsy-groups-and-first-match-only",
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


class _StoredFile:
    """A file already saved (what a model's FileField gives a form as its initial value)."""

    url = "/media/a<b>.txt"

    def __str__(self) -> str:
        return "a<b>.txt"


INPUT_ATTRS = [
    None,
    {"id": "id_x", "required": True, "disabled": False, "rows": 4, "data-x": 'a"b<c>&'},
    {"id": "x", "maxlength": "200", "aria-invalid": "true", "checked": True},
]
INPUT_CASES = [
    (forms.TextInput, widgets.OnePassTextInput, [None, "", "a <b> & 'c'", 12, mark_safe("<i>")]),
    (forms.Textarea, widgets.OnePassTextarea, [None, "", "a\nb <b> &", mark_safe("<i>")]),
    (forms.CheckboxInput, widgets.OnePassCheckboxInput, [None, "", True, False, "on", "x<y"]),
    (forms.ClearableFileInput, widgets.OnePassFileInput, [None, "", _StoredFile()]),
]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize(("stock_class", "drawn_class", "values"), INPUT_CASES)
@pytest.mark.parametrize("attrs", INPUT_ATTRS)
def test_inputs_and_textarea_markup_is_the_stock_widgets(
    language, stock_class, drawn_class, values, attrs
):
    with translation.override(language):
        for value in values:
            for widget_attrs in (None, {"rows": 2, "class": "wide"}):
                drawn = drawn_class(attrs=widget_attrs).render("field<1>", value, attrs)
                stock = stock_class(attrs=widget_attrs).render("field<1>", value, attrs)
                assert drawn == stock, (value, widget_attrs)


@pytest.mark.parametrize(
    "data", [None, {}, {"body": "好 <b>", "internal": "on"}], ids=["unbound", "empty", "filled"]
)
def test_a_form_draws_its_fields_as_with_the_stock_widgets(data):
    """Bound or not, with errors (aria-invalid) or not, required or not."""

    def form(text: type, area: type, box: type, upload: type) -> forms.Form:
        fields = {
            "title": forms.CharField(max_length=200, widget=text),
            "body": forms.CharField(widget=area(attrs={"rows": 4})),
            "internal": forms.BooleanField(required=False, widget=box),
            "attachment": forms.FileField(required=False, widget=upload),
        }
        made = type("ReplyLikeForm", (forms.Form,), fields)(data)
        made.is_valid()
        return made

    drawn = form(
        widgets.OnePassTextInput,
        widgets.OnePassTextarea,
        widgets.OnePassCheckboxInput,
        widgets.OnePassFileInput,
    )
    stock = form(forms.TextInput, forms.Textarea, forms.CheckboxInput, forms.ClearableFileInput)
    for name in ("title", "body", "internal", "attachment"):
        assert str(drawn[name]) == str(stock[name]), name
