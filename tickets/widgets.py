"""Form widgets of the agent pages that render faster than Django's stock templates."""

import html
from typing import Any

from django import forms
from django.utils.formats import localize
from django.utils.functional import Promise
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData, SafeString, mark_safe


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
        filter form. The options are written straight from the choices, as `optgroups` would
        mark them (only the first match is selected unless several may be): building its
        option dicts took as long as writing them."""
        values = self.format_value(value)
        final_attrs = self.build_attrs(self.attrs, attrs)
        if self.allow_multiple_selected:
            final_attrs["multiple"] = True
        parts = [f'<select name="{_text(name)}"{_attrs(final_attrs)}>']
        has_selected = False
        for option_value, option_label in self.choices:
            if option_value is None:
                option_value = ""
            group = isinstance(option_label, list | tuple)
            if group and option_value:  # `{% if group_name %}`
                parts.append(f'\n  <optgroup label="{_text(option_value)}">')
            for subvalue, sublabel in option_label if group else [(option_value, option_label)]:
                selected = (not has_selected or self.allow_multiple_selected) and str(
                    subvalue
                ) in values
                has_selected |= selected
                parts.append(
                    f'\n  <option value="{_formatted(subvalue)}"{" selected" if selected else ""}>'
                    f"{_text(sublabel)}</option>\n"
                )
            if group and option_value:
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


# The stock text, checkbox and file inputs and textarea, drawn in Python from the context their
# templates get: django/forms/widgets/input.html (with attrs.html), textarea.html and
# clearable_file_input.html, byte for byte (as the form renderer strips them). A template pass
# per field (two templates an input) was most of the ticket page's reply form.


class OnePassTextInput(forms.TextInput):
    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        return _input(self.get_context(name, value, attrs)["widget"])


class OnePassCheckboxInput(forms.CheckboxInput):
    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        return _input(self.get_context(name, value, attrs)["widget"])


class OnePassFileInput(forms.ClearableFileInput):
    """Django's clearable file input; with a file already there (the clear box and its link),
    its own template."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        if widget["is_initial"]:
            return super().render(name, value, attrs, renderer)
        return mark_safe(  # noqa: S308 - every value escaped by _text
            f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"'
            f"{_attrs(widget['attrs'])}>"
        )


class OnePassTextarea(forms.Textarea):
    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        text = _text(widget["value"]) if widget["value"] else ""
        return mark_safe(  # noqa: S308 - every value escaped by _text
            f'<textarea name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>\n{text}</textarea>'
        )


def _input(widget: dict[str, Any]) -> SafeString:
    """django/forms/widgets/input.html."""
    value = "" if widget["value"] is None else f' value="{_formatted(widget["value"])}"'
    return mark_safe(  # noqa: S308 - every value escaped by _text
        f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"{value}'
        f"{_attrs(widget['attrs'])}>"
    )


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
