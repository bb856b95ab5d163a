"""Schemathesis against /api/schema/: thousands of generated requests over every operation, as
signed-in users of a realistic company (the demo data), in-process through the WSGI app.

Every answer must be documented by the schema: no 5xx, a documented status code, a documented
content type and a body that matches the documented shape. Path ids are drawn mostly from rows
that exist (so the generated bodies reach the views' logic) and sometimes generated (404s).

FUZZ_EXAMPLES (default 12) bounds the examples per operation and generation mode; the whole
module takes about three minutes on two cores.
"""

import os
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import got_request_exception, request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import DatabaseError, close_old_connections, transaction
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from departments.models import Department, Membership, User
from servicedesk.throttling import AuthRateThrottle, WriteRateThrottle
from slas.models import Agreement, BusinessCalendar, CalendarDay, SlaPolicy
from tickets import selectors, services
from tickets.models import Attachment, Service, Status, Ticket

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Not negative_data_rejection: DRF coerces a number sent for a text field to text (575289 ->
# "575289"), which that check reports although nothing is wrong with the answer.
VALID_IDS_PER_OPERATION = 6

pytestmark = pytest.mark.django_db


@dataclass
class Report:
    cases: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # one per (operation, kind)


@pytest.fixture
def in_process_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The WSGI app, sharing the test's transaction: like Django's test client, requests must
    not close the connection between calls. Throttles are lifted (they are tested elsewhere)
    so generated writes reach the views."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    monkeypatch.setattr(WriteRateThrottle, "allow_request", lambda *args: True)
    monkeypatch.setattr(AuthRateThrottle, "allow_request", lambda *args: True)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _with_files(ticket: Ticket, user: User) -> None:
    upload = SimpleUploadedFile("notes.txt", "会议纪要 meeting notes".encode(), "text/plain")
    services.add_attachment(ticket=ticket, uploaded_by=user, upload=upload)


def valid_path_ids(user: User) -> dict[str, list[dict[str, Any]]]:
    """Path parameters that resolve to existing rows, per path template."""
    tickets = list(selectors.visible_tickets(user).order_by("-id").values_list("id", flat=True)[:8])
    attachments = list(
        Attachment.objects.filter(ticket_id__in=tickets).values_list("ticket_id", "id")[:8]
    )
    departments = list(Department.objects.order_by("id").values_list("id", flat=True)[:8])
    members = list(Membership.objects.order_by("id").values_list("department_id", "user_id")[:8])
    calendars = list(BusinessCalendar.objects.values_list("id", flat=True)[:4])
    days = list(CalendarDay.objects.order_by("-id").values_list("calendar_id", "id")[:8])
    ids: dict[str, list[dict[str, Any]]] = {
        "/api/v1/tickets/{id}/": [{"id": i} for i in tickets],
        "/api/v1/tickets/{id}/attachments/{attachment_id}/": [
            {"id": t, "attachment_id": a} for t, a in attachments
        ],
        "/api/v1/departments/{id}/": [{"id": i} for i in departments],
        "/api/v1/departments/{department_id}/members/": [{"department_id": i} for i in departments],
        "/api/v1/departments/{department_id}/members/{user}/": [
            {"department_id": d, "user": u} for d, u in members
        ],
        "/api/v1/users/{id}/": [
            {"id": i} for i in User.objects.order_by("id").values_list("id", flat=True)[:8]
        ],
        "/api/v1/services/{id}/": [
            {"id": i} for i in Service.objects.order_by("id").values_list("id", flat=True)[:8]
        ],
        "/api/v1/calendars/{id}/": [{"id": i} for i in calendars],
        "/api/v1/calendars/{calendar_id}/days/": [{"calendar_id": i} for i in calendars],
        "/api/v1/calendars/{calendar_id}/days/{id}/": [
            {"calendar_id": c, "id": d} for c, d in days
        ],
        "/api/v1/sla-policies/{id}/": [
            {"id": i} for i in SlaPolicy.objects.values_list("id", flat=True)[:8]
        ],
        "/api/v1/agreements/{id}/": [
            {"id": i} for i in Agreement.objects.values_list("id", flat=True)[:8]
        ],
    }
    ids.update(_feedback_ids(user))
    return ids


def _feedback_ids(user: User) -> dict[str, list[dict[str, Any]]]:
    """Ids for the feedback endpoints (their rows are few in the demo data, if any)."""
    from feedback.models import ImprovementAction, Kudos, Suggestion, Survey

    found: dict[str, list[dict[str, Any]]] = {}
    for resource, model in (
        ("surveys", Survey),
        ("suggestions", Suggestion),
        ("kudos", Kudos),
        ("improvement-actions", ImprovementAction),
    ):
        rows = [{"id": i} for i in model.objects.order_by("-id").values_list("id", flat=True)[:6]]
        found[f"/api/v1/{resource}/{{id}}/"] = rows
    return found


def ids_for(path: str, table: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Exact template first, else the ids of the resource the sub-path hangs off."""
    if path in table:
        return table[path][:VALID_IDS_PER_OPERATION]
    for template, rows in table.items():
        if path.startswith(template) and path.count("{") == template.count("{"):
            return rows[:VALID_IDS_PER_OPERATION]
    return []


def load_schema(user: User, app: Any) -> tuple[Any, dict[str, str]]:
    token, _created = Token.objects.get_or_create(user=user)
    headers = {"Authorization": f"Token {token.key}"}
    response = Client().get("/api/schema/?format=json", headers=headers)
    assert response.status_code == 200
    # The test client connects these signals again after its request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    schema = schemathesis.openapi.from_dict(response.json())
    schema.app = app
    return schema, headers


def case_strategy(operation: Any, mode: GenerationMode, ids: list[dict[str, Any]]) -> Any:
    generated = operation.as_strategy(generation_mode=mode)
    if not ids:
        return generated
    existing = [operation.as_strategy(generation_mode=mode, path_parameters=row) for row in ids]
    # Mostly existing rows (the views' logic), sometimes a generated id (the 404 path).
    return st.one_of(*existing, *existing, generated)


def fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    ids: list[dict[str, Any]],
    headers: dict[str, str],
    report: Report,
    examples: int,
) -> None:
    checks = CHECKS
    server_errors: list[str] = []

    def remember(sender: Any, request: Any = None, **kwargs: Any) -> None:
        server_errors.append(traceback.format_exc())

    got_request_exception.connect(remember)

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=case_strategy(operation, mode, ids))
    def run(case: Any) -> None:
        report.cases += 1
        server_errors.clear()
        try:
            with transaction.atomic():
                response = case.call(headers=headers)
        except DatabaseError:
            response = None
        if response is None:
            key = f"{operation.label} [{mode.value}] database error"
            report.failures.setdefault(key, "".join(server_errors)[-3000:])
            return
        report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except (AssertionError, FailureGroup, Failure) as failure:  # report all together
            kind = type(failure).__name__
            key = f"{operation.label} [{mode.value}] {kind} {response.status_code}"
            detail = str(failure)[:2000]
            if server_errors:
                detail += "\n" + server_errors[-1][-3000:]
            report.failures.setdefault(key, detail)

    try:
        run()
    finally:
        got_request_exception.disconnect(remember)


def fuzz_api(user: User, app: Any, examples: int, keep: Callable[[Any], bool]) -> Report:
    schema, headers = load_schema(user, app)
    table = valid_path_ids(user)
    report = Report()
    for result in schema.get_all_operations():
        operation = result.ok()
        if not keep(operation):
            continue
        ids = ids_for(operation.path, table)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz_operation(operation, mode, ids, headers, report, examples)
    return report


def _format(report: Report) -> str:
    return "\n\n".join(f"== {key}\n{detail}" for key, detail in sorted(report.failures.items()))


def _everything(operation: Any) -> bool:
    return True


def _prepare(admin: User) -> None:
    """Some rows the demo history lacks: a file on a few tickets."""
    for ticket in Ticket.objects.exclude(status__in=(Status.CLOSED, Status.CANCELLED))[:3]:
        _with_files(ticket, ticket.requester)
    admin.is_staff = True
    admin.save(update_fields=["is_staff"])


def test_api_answers_every_generated_request_as_documented_for_an_admin(
    demo_company: None, in_process_app: Any
) -> None:
    admin = User.objects.get(username="admin")
    _prepare(admin)
    report = fuzz_api(admin, in_process_app, EXAMPLES, _everything)
    assert not report.failures, _format(report)
    assert report.cases >= 1000, report.cases


def test_api_answers_every_generated_request_as_documented_for_a_head_and_an_employee(
    demo_company: None, in_process_app: Any
) -> None:
    _prepare(User.objects.get(username="admin"))
    total = 0
    failures: dict[str, str] = {}
    for username in ("head", "employee"):
        report = fuzz_api(
            User.objects.get(username=username), in_process_app, max(EXAMPLES // 2, 3), _everything
        )
        total += report.cases
        failures.update({f"{username}: {k}": v for k, v in report.failures.items()})
    assert not failures, "\n\n".join(f"== {k}\n{v}" for k, v in sorted(failures.items()))
    assert total >= 500, total
