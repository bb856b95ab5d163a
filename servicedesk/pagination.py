"""Pagination: bounded pages everywhere; cursor pagination for tickets (no COUNT(*))."""

from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.request import Request


class DefaultPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class TicketCursorPagination(CursorPagination):
    """Orders by the list's `ordering` parameter (default newest first), always ending on id."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-created_at", "-id")

    def get_ordering(self, request: Request, queryset: object, view: object) -> tuple[str, ...]:
        ordering = tuple(super().get_ordering(request, queryset, view))
        if not any(field.lstrip("-") == "id" for field in ordering):
            # A unique last key keeps cursors exact when many rows share a value.
            ordering += ("-id" if ordering[0].startswith("-") else "id",)
        return ordering


class TimelineCursorPagination(CursorPagination):
    """A ticket's events, oldest first; fixed order whatever the view's ordering filter says."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("at", "id")

    def get_ordering(self, request: Request, queryset: object, view: object) -> tuple[str, ...]:
        return self.ordering


class CreatedCursorPagination(TimelineCursorPagination):
    """A ticket's comments and attachments, oldest first."""

    ordering = ("created_at", "id")
