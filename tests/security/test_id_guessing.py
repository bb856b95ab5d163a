"""Guessing ids: an outsider who types the id or reference of another department's ticket gets
404 everywhere (API and pages, reads and writes), exactly as for an id that does not exist, so
the answer does not even tell that the ticket exists (DESIGN §3: 404 where existence must not
leak). Nothing changes on the ticket."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from departments.models import User
from feedback.models import Kudos
from tests.conftest import Company
from tickets import services
from tickets.models import Attachment, Comment, Status, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

MISSING_ID = 987654321


@pytest.fixture
def ticket(company: Company) -> Ticket:
    """An HR employee's IT ticket, worked on, with a file and a reply."""
    ticket = services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="Laptop",
        description="",
        form_data={"model": "14寸"},
    )
    services.transition_ticket(ticket=ticket, actor=company.agent, status=Status.IN_PROGRESS)
    services.add_comment(ticket=ticket, author=company.agent, body="On it", internal=False)
    services.add_attachment(
        ticket=ticket,
        uploaded_by=company.requester,
        upload=SimpleUploadedFile("notes.txt", b"hello", "text/plain"),
    )
    return Ticket.objects.get(pk=ticket.pk)


def outsiders(company: Company) -> list[User]:
    # Another provider's agent, an employee of the requester's own department, and the head of
    # a third department: none of them is on the ticket.
    return [company.finance_agent, company.other_employee]


def api_calls(ticket_id: int, attachment_id: int) -> list[tuple[str, str, dict]]:
    base = f"/api/v1/tickets/{ticket_id}"
    return [
        ("get", f"{base}/", {}),
        ("patch", f"{base}/", {"title": "mine now"}),
        ("post", f"{base}/transitions/", {"status": "cancelled"}),
        ("get", f"{base}/comments/", {}),
        ("post", f"{base}/comments/", {"body": "hello", "internal": False}),
        ("get", f"{base}/attachments/", {}),
        ("get", f"{base}/attachments/{attachment_id}/", {}),
        ("get", f"{base}/events/", {}),
        ("get", f"{base}/rating/", {}),
        ("put", f"{base}/rating/", {"score": 1, "end_score": 1, "comment": "bad"}),
    ]


def snapshot(ticket: Ticket) -> tuple:
    fresh = Ticket.objects.get(pk=ticket.pk)
    return (
        fresh.title,
        fresh.status,
        fresh.assignee_id,
        fresh.priority,
        Comment.objects.filter(ticket=ticket).count(),
        Attachment.objects.filter(ticket=ticket).count(),
        TicketEvent.objects.filter(ticket=ticket).count(),
        Kudos.objects.filter(ticket=ticket).count(),
    )


def test_every_ticket_api_endpoint_answers_404_to_an_outsider_like_a_missing_id(
    company: Company, ticket: Ticket
) -> None:
    attachment = Attachment.objects.get(ticket=ticket)
    before = snapshot(ticket)
    for user in outsiders(company):
        client = APIClient()
        client.force_authenticate(user)
        for method, url, body in api_calls(ticket.pk, attachment.pk):
            response = getattr(client, method)(url, body, format="json")
            assert response.status_code == 404, (user.username, method, url, response.content)
            assert response.json()["code"] == "not_found"
        # The same answer, byte for byte in shape, as for an id that does not exist.
        for method, url, body in api_calls(MISSING_ID, MISSING_ID):
            response = getattr(client, method)(url, body, format="json")
            assert response.status_code == 404, (method, url)
    assert snapshot(ticket) == before


def test_the_upload_endpoint_answers_404_to_an_outsider(company: Company, ticket: Ticket) -> None:
    client = APIClient()
    client.force_authenticate(company.finance_agent)
    response = client.post(
        f"/api/v1/tickets/{ticket.pk}/attachments/",
        {"file": SimpleUploadedFile("x.txt", b"hello")},
        format="multipart",
    )
    assert response.status_code == 404
    assert Attachment.objects.filter(ticket=ticket).count() == 1


def page_calls(reference: str, agent_id: int) -> list[tuple[str, str, dict]]:
    base = f"/tickets/{reference}"
    return [
        ("get", f"{base}/", {}),
        ("get", f"{base}/clocks/", {}),
        ("post", f"{base}/reply/", {"body": "hello"}),
        ("post", f"{base}/transition/", {"status": "cancelled"}),
        ("post", f"{base}/update/", {"priority": "urgent", "assignee": str(agent_id)}),
        ("post", f"{base}/edit/", {"title": "mine now", "description": ""}),
        ("post", f"{base}/rating/", {"score": "1", "end_score": "1"}),
        ("post", f"{base}/kudos/", {"agent": str(agent_id), "message": "thanks"}),
    ]


def test_every_ticket_page_answers_404_to_an_outsider_like_a_missing_reference(
    company: Company, ticket: Ticket
) -> None:
    before = snapshot(ticket)
    for user in outsiders(company):
        client = Client()
        client.force_login(user)
        for method, url, body in page_calls(ticket.reference, company.agent.pk):
            response = getattr(client, method)(url, body)
            assert response.status_code == 404, (user.username, method, url)
        for method, url, body in page_calls("IT-2026-999999", company.agent.pk):
            assert getattr(client, method)(url, body).status_code == 404, (method, url)
    assert snapshot(ticket) == before


def test_the_requester_department_head_sees_the_ticket_but_cannot_act_as_provider(
    company: Company, ticket: Ticket
) -> None:
    """Visibility is not write access: HR's head reads HR's tickets, provider-only writes are
    refused (403 once the ticket is visible, since its existence is no secret to them)."""
    client = APIClient()
    client.force_authenticate(company.hr_head)
    assert client.get(f"/api/v1/tickets/{ticket.pk}/").status_code == 200
    response = client.post(
        f"/api/v1/tickets/{ticket.pk}/transitions/", {"status": "resolved"}, format="json"
    )
    assert response.status_code in (403, 409)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.IN_PROGRESS


def test_internal_notes_and_files_are_not_found_by_id_on_the_requester_side(
    company: Company, ticket: Ticket
) -> None:
    services.add_comment(ticket=ticket, author=company.agent, body="secret", internal=True)
    internal_file = services.add_attachment(
        ticket=ticket,
        uploaded_by=company.agent,
        upload=SimpleUploadedFile("internal.txt", b"secret", "text/plain"),
        internal=True,
    )
    client = APIClient()
    client.force_authenticate(company.requester)
    url = f"/api/v1/tickets/{ticket.pk}/attachments/{internal_file.pk}/"
    assert client.get(url).status_code == 404
    bodies = [
        c["body"] for c in client.get(f"/api/v1/tickets/{ticket.pk}/comments/").json()["results"]
    ]
    assert "secret" not in bodies


def test_other_object_endpoints_do_not_leak_existence(company: Company) -> None:
    """A survey the caller is not asked in, and another department's improvement actions."""
    from datetime import timedelta

    from django.utils import timezone

    from feedback.models import ImprovementAction, Suggestion, Survey

    now = timezone.now()
    survey = Survey.objects.create(
        kind=Survey.Kind.SERVQUAL,
        title="IT for finance",
        provider_department=company.it,
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=1),
        state=Survey.State.OPEN,
        created_by=company.it_head,
    )
    survey.audience_departments.set([company.finance])
    suggestion = Suggestion.objects.create(
        department=company.it,
        title="Faster Wi-Fi",
        body="please",
        anonymous=True,
        created_on=timezone.localdate(),
    )
    action = ImprovementAction.objects.create(
        department=company.it,
        title="Wi-Fi",
        owner=company.it_head,
        source_type=ImprovementAction.Source.SUGGESTION,
        source_id=suggestion.pk,
    )
    client = APIClient()
    client.force_authenticate(company.requester)  # HR employee: not asked, not IT staff
    results = client.get(f"/api/v1/surveys/{survey.pk}/results/")
    assert results.status_code in (403, 404)
    answer = client.post(f"/api/v1/surveys/{survey.pk}/responses/", {"answers": []}, format="json")
    assert answer.status_code == 404
    edit = client.patch(f"/api/v1/improvement-actions/{action.pk}/", {"title": "x"}, format="json")
    assert edit.status_code in (403, 404)
    assert ImprovementAction.objects.get(pk=action.pk).title == "Wi-Fi"
