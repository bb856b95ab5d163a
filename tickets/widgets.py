"""Form widgets of the agent pages that render faster than Django's stock templates."""

import html
from typing import Any

from django import forms
from django.forms.renderers import TemplatesSetting
from django.utils.formats import localize
from django.utils.functional import Promise
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData, SafeString, mark_safe

# The project's template engine (templates/): the stock form renderer only sees app templates.
PAGE_TEMPLATES = TemplatesSetting()


class OnePassSelect(forms.Select):
    """Django's select, drawn in Python (`render`) rather than by templates.

    The stock widget includes two templates for every option; the queue's filter selects were
    a tenth of that page's time. The markup is the stock widget's, byte for byte
    (templates/tickets/_select.html writes it out as one template, for reference)."""

    template_name = "tickets/_select.html"

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: Any = None,
    ) -> SafeString:
        """templates/tickets/_select.html's markup, byte for byte, written in Python: even one
        template pass (a for loop and filters per option and attribute) was most of the queue's
        filter form."""
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
        for group_name, group_choices, _index in widget["optgroups"]:
            if group_name:
                parts.append(f'\n  <optgroup label="{_text(group_name)}">')
            for option in group_choices:
                parts.append(
                    f'\n  <option value="{_formatted(option["value"])}"{_attrs(option["attrs"])}>'
                    f"{_text(option['label'])}</option>\n"
                )
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")  # the form renderer strips the template's last newline
        return mark_safe("".join(parts))  # noqa: S308 - every value escaped by _text


class OnePassCheckLabels(forms.CheckboxSelectMultiple):
    """Checkboxes, each inside its label: `<label class="check"><input …> text</label>`, the
    inputs the stock widget's (`choice.tag`), drawn in Python. As a template loop over each box
    and its attributes it was a third of the queue's filter form."""

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: Any = None,
    ) -> SafeString:
        if attrs and "id" in attrs:  # the id first, as iterating the bound field writes it
            attrs = {"id": attrs["id"], **attrs}
        parts = []
        for option in self.subwidgets(name, value, attrs):
            value_attr = (
                "" if option["value"] is None else f' value="{_formatted(option["value"])}"'
            )
            parts.append(
                f'<label class="check"><input type="{_text(option["type"])}"'
                f' name="{_text(option["name"])}"{value_attr}{_attrs(option["attrs"])}>'
                f" {_text(option['label'])}</label>"
            )
        return mark_safe("".join(parts))  # noqa: S308 - every value escaped by _text


def _text(value: Any) -> str:
    """`{{ value }}` in the template: localized, then escaped unless already safe."""
    if isinstance(value, Promise):  # a translated label
        value = str(value)
    if type(value) is str:  # most names, values and labels: Django's escape, without its wrappers
        return html.escape(value)
    return str(conditional_escape(localize(value)))


def _formatted(value: Any) -> str:
    """`{{ value|stringformat:'s' }}`: not localized; escaped unless already safe."""
    text = str(value)
    return text if isinstance(value, SafeData) else html.escape(text)


def _attrs(attrs: dict[str, Any]) -> str:
    """The template's attrs loop: False leaves the attribute out, True writes its bare name."""
    return "".join(
        f" {_text(name)}" if value is True else f' {_text(name)}="{_formatted(value)}"'
        for name, value in attrs.items()
        if value is not False
    )
