"""The API router: object ids in addresses are integers (DESIGN §3), so only digits route.

DRF's default lookup pattern takes any text, which then reaches `pk=<text>` in a query and
fails with a 500; here `/tickets/null/` simply matches no route and answers the JSON 404.
"""

from typing import Any

from rest_framework.routers import DefaultRouter


class IntegerIdRouter(DefaultRouter):
    def get_lookup_regex(self, viewset: Any, lookup_prefix: str = "") -> str:
        lookup_field = getattr(viewset, "lookup_field", "pk")
        lookup_url_kwarg = getattr(viewset, "lookup_url_kwarg", None) or lookup_field
        lookup_value = getattr(viewset, "lookup_value_regex", None) or r"\d+"
        return f"(?P<{lookup_prefix}{lookup_url_kwarg}>{lookup_value})"
