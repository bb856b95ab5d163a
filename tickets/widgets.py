"""Form widgets of the agent pages that render faster than Django's stock templates."""

from typing import Any

from django import forms
from django.forms.renderers import TemplatesSetting
from django.utils.safestring import SafeString

# The project's template engine (templates/): the stock form renderer only sees app templates.
PAGE_TEMPLATES = TemplatesSetting()


class OnePassSelect(forms.Select):
    """Django's select, drawn by templates/tickets/_select.html in one template pass.

    The stock widget includes two templates for every option; the queue's filter selects were
    a tenth of that page's time. The markup is the stock widget's, attribute for attribute."""

    template_name = "tickets/_select.html"

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: Any = None,
    ) -> SafeString:
        return super().render(name, value, attrs, renderer=PAGE_TEMPLATES)
