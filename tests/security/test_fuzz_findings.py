"""One test per defect the API fuzzing found, so each stays fixed without running the fuzzer."""

import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.conftest import Company
from tickets import services
from tickets.models import Ticket, TicketEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(company: Company) -> Ticket:
    return services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="Laptop",
        description="",
        form_data={"model": "14寸"},
    )


@pytest.fixture
def client(company: Company) -> APIClient:
    client = APIClient()
    client.force_authenticate(company.requester)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/tickets/null/",
        "/api/v1/tickets/true/transitions/",
        "/api/v1/tickets/%C3%A9/comments/",
        "/api/v1/tickets/1.5/",
        "/api/v1/services/-1/",
        "/api/v1/departments/abc/members/",
        "/api/v1/no-such-thing/",
    ],
)
def test_a_non_integer_id_answers_the_json_404_not_a_500(client: APIClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["code"] == "not_found"


def test_a_time_filter_with_an_offset_postgresql_refuses_is_compared_in_utc(
    client: APIClient, ticket: Ticket
) -> None:
    # -22:04 is a valid ISO 8601 offset that PostgreSQL would not take (±15:59 at most).
    response = client.get("/api/v1/tickets/", {"created_after": "1950-02-15T03:43:37-22:04"})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [ticket.pk]
    response = client.get("/api/v1/tickets/", {"created_before": "1950-02-15T03:43:37+23:59"})
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_a_time_filter_at_the_edge_of_the_calendar_is_refused_naming_the_field(
    client: APIClient,
) -> None:
    response = client.get("/api/v1/tickets/", {"created_after": "0001-01-01T00:00:00+05:00"})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["created_after"]


def test_a_page_past_the_end_is_a_documented_404(client: APIClient, ticket: Ticket) -> None:
    response = client.get("/api/v1/services/", {"page": 999})
    assert response.status_code == 404
    schema = APIClient()
    schema.force_authenticate(ticket.requester)
    paths = schema.get("/api/schema/?format=json").json()["paths"]
    assert "404" in paths["/api/v1/services/"]["get"]["responses"]
    assert "400" in paths["/api/v1/services/{id}/promise/"]["get"]["responses"]


def test_system_events_have_no_actor_and_the_schema_says_so(
    client: APIClient, ticket: Ticket
) -> None:
    TicketEvent.objects.create(
        ticket=ticket, kind=TicketEvent.Kind.SLA_BREACHED, actor=None, at=timezone.now()
    )
    events = client.get(f"/api/v1/tickets/{ticket.pk}/events/").json()["results"]
    assert None in [event["actor"] for event in events]
    paths = client.get("/api/schema/?format=json").json()
    actor = paths["components"]["schemas"]["TicketEvent"]["properties"]["actor"]
    assert actor.get("nullable") is True


def test_the_api_takes_json_bodies_not_forms(client: APIClient, company: Company) -> None:
    """A form body is read with HTML rules (blank = omitted); the JSON API refuses it (415)."""
    response = client.post(
        "/api/v1/tickets/",
        {"service": company.service.pk, "title": "x", "form_data": ""},
        format="multipart",
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
