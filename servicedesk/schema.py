"""OpenAPI: every operation documents the shared error body for the errors it can return."""

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. invalid_transition.")
    detail = serializers.CharField(help_text="Human-readable explanation.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="For validation errors: field path to messages.",
    )


ERROR_DESCRIPTIONS = {
    "400": "Invalid input (fields name what is wrong).",
    "401": "Not signed in.",
    "403": "Not allowed.",
    "404": "Not found (or not visible to you).",
    "409": "Conflict with the ticket's current state (e.g. invalid_transition).",
    "429": "Too many requests.",
}


class ServiceDeskAutoSchema(AutoSchema):
    def get_operation(self, *args: Any, **kwargs: Any) -> dict | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        error_ref = self.resolve_serializer(ErrorSerializer, "response").ref
        method = self.method.upper()
        codes = ["401", "403", "429"]
        # A page number past the end answers 404 (and a bad cursor 404 too).
        if method != "GET" or "{" in self.path or self._is_list_view():
            codes.append("404")
        # Query parameters (filters, `at`, `consumer_department`...) are validated: 400.
        has_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
        if method in ("POST", "PUT", "PATCH") or self._is_list_view() or has_query:
            codes.append("400")
        if method in ("POST", "PATCH", "PUT") and "/tickets/" in self.path:
            codes.append("409")
        responses = operation.setdefault("responses", {})
        for code in codes:
            responses.setdefault(
                code,
                {
                    "content": {"application/json": {"schema": error_ref}},
                    "description": ERROR_DESCRIPTIONS[code],
                },
            )
        return operation
