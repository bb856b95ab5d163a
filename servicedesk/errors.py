"""Domain errors and the one API exception handler that turns every error into stable JSON.

Every error body is `{"code": <stable machine code>, "detail": <human text>}`; validation
errors add `"fields": {<field path>: [<messages>]}` so a client can tell which input was wrong.
"""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    """Raised by services; carries a stable code and the HTTP status the API should answer."""

    code = "error"
    http_status = status.HTTP_400_BAD_REQUEST

    def __init__(self, detail: str, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidTransition(DomainError):
    code = "invalid_transition"
    http_status = status.HTTP_409_CONFLICT


class NotAllowed(DomainError):
    code = "permission_denied"
    http_status = status.HTTP_403_FORBIDDEN


class Conflict(DomainError):
    code = "conflict"
    http_status = status.HTTP_409_CONFLICT


class InvalidInput(DomainError):
    """Bad input found by a service; `fields` maps each field path to its messages."""

    code = "invalid"

    def __init__(self, fields: dict[str, Any], detail: str | None = None):
        normalised = {k: v if isinstance(v, list) else [str(v)] for k, v in fields.items()}
        if detail is None:
            # Name the first bad field in the human text too, like DRF's validation errors.
            first = next(iter(normalised.items()), None)
            detail = f"{first[0]}: {first[1][0]}" if first else str(_("Invalid input."))
        super().__init__(detail, fields=normalised)
        self.fields = normalised


def _flatten(data: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF nests errors per field; flatten to dotted paths like `form_schema.0.key`."""
    out: dict[str, list[str]] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, path))
    elif (
        isinstance(data, list)
        and data
        and all(isinstance(x, (str, exceptions.ErrorDetail)) for x in data)
    ):
        out[prefix or "non_field_errors"] = [str(x) for x in data]
    elif isinstance(data, list):
        for index, value in enumerate(data):
            if value:
                out.update(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out[prefix or "non_field_errors"] = [str(data)]
    return out


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        body = {"code": exc.code, "detail": exc.detail, **exc.extra}
        return Response(body, status=exc.http_status)
    if isinstance(exc, OperationalError | InterfaceError):
        # The database is unreachable (restarting, failing over): the client should retry.
        body = {
            "code": "service_unavailable",
            "detail": str(_("The service is briefly unavailable. Please try again shortly.")),
        }
        return Response(
            body, status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "5"}
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        first = next(iter(fields.items()), None)
        detail = f"{first[0]}: {first[1][0]}" if first else str(_("Invalid input."))
        response.data = {"code": "invalid", "detail": detail, "fields": fields}
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        code = exc.get_codes() if hasattr(exc, "get_codes") else exc.default_code
        if isinstance(detail, dict):
            detail = detail.get("detail", detail)
        if isinstance(code, dict):
            code = code.get("detail", exc.default_code)
        if isinstance(exc, exceptions.ParseError):
            code = "parse_error"
        response.data = {"code": str(code), "detail": str(detail)}
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            response.data["retry_after"] = int(exc.wait)
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 for addresses no view answers: the API's JSON error body under /api/, else the page."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "not_found", "detail": str(_("Not found."))}, status=status.HTTP_404_NOT_FOUND
        )
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """500: the API's JSON error body under /api/ (clients parse every answer), else the page."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "server_error", "detail": str(_("Server error."))},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    return defaults.server_error(request)
