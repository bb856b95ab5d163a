"""Filing a ticket and moving it along cost a pinned number of queries (issue #6: the busiest
writes), with an SLA policy, its calendar and an agreement in place as in production.

Counted inside the test's transaction, so `file_ticket`'s and `transition_ticket`'s own
transaction shows as a savepoint and its release (two statements each).
"""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from departments.models import User
from slas.calendars import import_china_years
from slas.models import Agreement, SlaPolicy
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

TARGETS = {p: {"response": 120, "resolution": 480} for p in ("urgent", "high", "normal", "low")}
# The SLA configuration's version (read once; an API token's query brings it along, these
# clients have none), service, savepoint, may the department request it, policy with agreement
# and calendar, calendar days, the filing statement (reference number, ticket, event, SLA
# figures ledger entries, and the ticket's row for the response: tickets.filing), release; then
# the catalog's names for the row (kept by a process once committed; never in these tests,
# tests/tickets/test_filing_kept_catalog.py pins that).
FILE_QUERIES = 9
# The caller's roles, the visible ticket, savepoint, the ticket locked, two events (status,
# first response), the SLA configuration's version, policy with calendar, calendar days, fired
# SLA steps (read once), ticket update, SLA figures ledger entries, release; then the ticket
# row for the response, and the catalog's names for it.
TRANSITION_QUERIES = 15


@pytest.fixture
def agreement(company) -> Agreement:
    calendar, _years = import_china_years(years=[2025])
    policy = SlaPolicy.objects.create(name="标准", calendar=calendar, targets=TARGETS)
    company.it.default_sla_policy = policy
    company.it.save()
    fast = SlaPolicy.objects.create(name="快速", calendar=calendar, targets=TARGETS)
    return Agreement.objects.create(
        provider_department=company.it, consumer_department=company.hr, policy=fast
    )


def captured(api, user: User, url: str, body: dict[str, Any], status: int) -> tuple[int, dict]:
    client = api(User.objects.get(pk=user.pk))  # no role cache carried between requests
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, body, format="json")
    assert response.status_code == status, response.content
    return len(queries), response.json()


def test_filing_costs_a_pinned_number_of_queries(company, api, agreement):
    body = {"service": company.service.pk, "title": "显示器坏了", "form_data": {"model": "14寸"}}
    counts = []
    for _ in range(2):
        queries, ticket = captured(api, company.requester, "/api/v1/tickets/", body, 201)
        counts.append(queries)
    assert counts == [FILE_QUERIES, FILE_QUERIES]
    assert Ticket.objects.get(pk=ticket["id"]).sla_policy_id == agreement.policy_id
    assert ticket["response_remaining_minutes"] is not None


def test_a_first_move_by_an_agent_costs_a_pinned_number_of_queries(company, api, agreement):
    body = {"service": company.service.pk, "title": "显示器坏了", "form_data": {"model": "14寸"}}
    filed = api(company.requester).post("/api/v1/tickets/", body, format="json").json()
    url = f"/api/v1/tickets/{filed['id']}/transitions/"
    queries, ticket = captured(api, company.agent, url, {"status": "in_progress"}, 200)
    assert queries == TRANSITION_QUERIES
    assert ticket["status"] == "in_progress"
    assert ticket["first_response_at"] is not None
