"""The OpenAPI schema is valid, lists every API endpoint and documents its errors (DESIGN §3)."""

import json
import re
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from openapi_spec_validator import validate

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

# The endpoints DESIGN §3 promises under /api/v1/ (and what the URLconf serves today).
DESIGN_PATHS = [
    "/api/v1/auth/token/",
    "/api/v1/departments/",
    "/api/v1/departments/{id}/",
    "/api/v1/departments/{department_id}/members/",
    "/api/v1/departments/{department_id}/members/{user}/",
    "/api/v1/users/",
    "/api/v1/users/{id}/",
    "/api/v1/services/",
    "/api/v1/services/{id}/",
    "/api/v1/tickets/",
    "/api/v1/tickets/{id}/",
    "/api/v1/tickets/{id}/transitions/",
    "/api/v1/tickets/{id}/comments/",
    "/api/v1/tickets/{id}/attachments/",
    "/api/v1/tickets/{id}/attachments/{attachment_id}/",
    "/api/v1/tickets/{id}/events/",
    "/api/v1/services/{id}/promise/",
    "/api/v1/calendars/",
    "/api/v1/calendars/{id}/",
    "/api/v1/calendars/{calendar_id}/days/",
    "/api/v1/calendars/{calendar_id}/days/{id}/",
    "/api/v1/sla-policies/",
    "/api/v1/sla-policies/{id}/",
    "/api/v1/agreements/",
    "/api/v1/agreements/{id}/",
    "/api/v1/metrics/sla/",
]


@pytest.fixture
def schema(api) -> dict[str, Any]:
    response = api(UserFactory()).get("/api/schema/?format=json")
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def _route(pattern: URLPattern | URLResolver) -> str:
    """A URL pattern as an OpenAPI path template: `(?P<pk>[^/.]+)` and `<int:pk>` -> `{id}`."""
    route = str(pattern.pattern).lstrip("^").rstrip("$")
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
    return route.replace("{pk}", "{id}")


def api_v1_paths() -> set[str]:
    """Every concrete path the URLconf serves under /api/v1/ (format suffixes and root aside)."""
    found: set[str] = set()

    def walk(patterns: list, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + _route(pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif route.startswith("/api/v1/") and "{format}" not in route:
                found.add(route)

    walk(get_resolver().url_patterns, "/")
    found.discard("/api/v1/")  # the browsable router index is not an endpoint
    return found


def test_schema_is_a_valid_openapi_3_document(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_schema_lists_every_endpoint_of_the_design(schema):
    missing = sorted(set(DESIGN_PATHS) - set(schema["paths"]))
    assert missing == []


def test_schema_lists_every_path_the_urlconf_serves_under_api_v1(schema):
    served = api_v1_paths()
    assert set(DESIGN_PATHS) <= served  # the walk itself sees the whole API
    assert sorted(served - set(schema["paths"])) == []


def test_every_operation_documents_an_error_response(schema):
    undocumented = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            errors = [code for code in operation["responses"] if code.startswith("4")]
            if not errors:
                undocumented.append(f"{method.upper()} {path}")
    assert undocumented == []


def test_write_operations_document_invalid_input_with_the_error_body(schema):
    for path, item in schema["paths"].items():
        for method in ("post", "put", "patch"):
            if method not in item:
                continue
            bad_request = item[method]["responses"].get("400")
            assert bad_request is not None, f"{method.upper()} {path}"
            body = bad_request["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/Error"}, f"{method.upper()} {path}"
    error = schema["components"]["schemas"]["Error"]
    assert {"code", "detail", "fields"} <= set(error["properties"])


def test_ticket_transitions_document_the_conflict_answer(schema):
    responses = schema["paths"]["/api/v1/tickets/{id}/transitions/"]["post"]["responses"]
    assert "409" in responses


def test_interactive_docs_page_is_served(api):
    response = api(UserFactory()).get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
