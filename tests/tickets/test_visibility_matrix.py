"""Who sees a ticket through which endpoint, and internal notes never leaving the provider side.

DESIGN.md §2 "Visibility": a requester sees their own tickets (a head, their department's
tickets as consumer); agents and heads of the provider see the provider's tickets; nobody else
sees a ticket (404, so existence does not leak). Internal notes and internal files are for the
provider's agents and heads only, in every API response.
"""

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponseBase
from rest_framework.test import APIClient

from tickets import services
from tickets.models import Attachment, Comment, Ticket

pytestmark = pytest.mark.django_db


TICKETS = "/api/v1/tickets/"

# Viewers, by the name of the `company` fixture attribute (None: not signed in).
VIEWERS = {
    "requester": "requester",
    "same_department_employee": "other_employee",
    "consumer_department_head": "hr_head",
    "provider_agent": "agent",
    "provider_head": "it_head",
    "other_department_agent": "finance_agent",
    "anonymous": None,
}
SEES_TICKET = {"requester", "consumer_department_head", "provider_agent", "provider_head"}
DOES_NOT_SEE = {"same_department_employee", "other_department_agent"}
PROVIDER_SIDE = {"provider_agent", "provider_head"}
CONSUMER_SIDE = {"requester", "consumer_department_head"}
assert SEES_TICKET | DOES_NOT_SEE | {"anonymous"} == set(VIEWERS)


def text_file(name: str, content: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode(), content_type="text/plain")


def body_text(response: HttpResponseBase) -> str:
    """The whole response body as text, streamed file downloads included."""
    if getattr(response, "streaming", False):
        data = b"".join(response.streaming_content)  # type: ignore[attr-defined]
        response.close()
    else:
        data = response.content  # type: ignore[attr-defined]
    return data.decode("utf-8", errors="replace")


@pytest.fixture
def ticket(company) -> Ticket:
    """A new ticket of HR's requester to IT, with one public file uploaded by the requester."""
    filed = services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="新电脑",
        form_data={"model": "14寸"},
    )
    services.add_attachment(
        ticket=filed, uploaded_by=company.requester, upload=text_file("specs.txt", "需要 32G 内存")
    )
    return filed


@pytest.fixture
def public_attachment(ticket) -> Attachment:
    return ticket.attachments.get(internal=False)


def client_for(api: Callable[..., APIClient], company: Any, viewer: str) -> APIClient:
    attribute = VIEWERS[viewer]
    return api(getattr(company, attribute) if attribute else None)


# --- the matrix ----------------------------------------------------------------------------
# Each endpoint: how to call it, and the status a viewer who sees the ticket gets.
# Writes by a viewer who may see but not act (the consumer department's head) are refused
# with 403; a request that is not allowed gets 403 (DESIGN.md §3 "Errors").


def call_list(client: APIClient, ticket: Ticket, attachment: Attachment) -> HttpResponseBase:
    return client.get(TICKETS)


def call_retrieve(client, ticket, attachment):
    return client.get(f"{TICKETS}{ticket.pk}/")


def call_patch_priority(client, ticket, attachment):
    return client.patch(f"{TICKETS}{ticket.pk}/", {"priority": "high"}, format="json")


def call_transition_to_in_progress(client, ticket, attachment):
    return client.post(
        f"{TICKETS}{ticket.pk}/transitions/", {"status": "in_progress"}, format="json"
    )


def call_comments_get(client, ticket, attachment):
    return client.get(f"{TICKETS}{ticket.pk}/comments/")


def call_comments_post(client, ticket, attachment):
    return client.post(f"{TICKETS}{ticket.pk}/comments/", {"body": "请问进度如何"}, format="json")


def call_attachments_get(client, ticket, attachment):
    return client.get(f"{TICKETS}{ticket.pk}/attachments/")


def call_attachments_post(client, ticket, attachment):
    return client.post(
        f"{TICKETS}{ticket.pk}/attachments/",
        {"file": text_file("log.txt", "error 42")},
        format="multipart",
    )


def call_attachment_download(client, ticket, attachment):
    return client.get(f"{TICKETS}{ticket.pk}/attachments/{attachment.pk}/")


def call_events(client, ticket, attachment):
    return client.get(f"{TICKETS}{ticket.pk}/events/")


ENDPOINTS: dict[str, tuple[Callable[..., HttpResponseBase], dict[str, int]]] = {
    "list": (call_list, dict.fromkeys(SEES_TICKET, 200)),
    "retrieve": (call_retrieve, dict.fromkeys(SEES_TICKET, 200)),
    "patch_priority": (
        call_patch_priority,
        {
            "requester": 403,
            "consumer_department_head": 403,
            "provider_agent": 200,
            "provider_head": 200,
        },
    ),
    "transition_to_in_progress": (
        call_transition_to_in_progress,
        {
            "requester": 409,
            "consumer_department_head": 403,
            "provider_agent": 200,
            "provider_head": 200,
        },
    ),
    "comments_get": (call_comments_get, dict.fromkeys(SEES_TICKET, 200)),
    "comments_post": (
        call_comments_post,
        {
            "requester": 201,
            "consumer_department_head": 403,
            "provider_agent": 201,
            "provider_head": 201,
        },
    ),
    "attachments_get": (call_attachments_get, dict.fromkeys(SEES_TICKET, 200)),
    "attachments_post": (
        call_attachments_post,
        {
            "requester": 201,
            "consumer_department_head": 403,
            "provider_agent": 201,
            "provider_head": 201,
        },
    ),
    "attachment_download": (call_attachment_download, dict.fromkeys(SEES_TICKET, 200)),
    "events": (call_events, dict.fromkeys(SEES_TICKET, 200)),
}

MATRIX = [
    pytest.param(viewer, endpoint, id=f"{endpoint}-by-{viewer}")
    for endpoint in ENDPOINTS
    for viewer in VIEWERS
]


def snapshot(ticket: Ticket) -> tuple[Any, ...]:
    fresh = Ticket.objects.get(pk=ticket.pk)
    return (
        fresh.status,
        fresh.priority,
        fresh.assignee_id,
        fresh.comments.count(),
        fresh.attachments.count(),
        fresh.events.count(),
    )


@pytest.mark.parametrize(("viewer", "endpoint"), MATRIX)
def test_ticket_endpoint_answers_each_viewer_per_visibility(
    company, api, ticket, public_attachment, viewer, endpoint
):
    call, expected_for_visible = ENDPOINTS[endpoint]
    before = snapshot(ticket)

    response = call(client_for(api, company, viewer), ticket, public_attachment)

    if viewer == "anonymous":
        assert response.status_code in (401, 403), body_text(response)
        assert snapshot(ticket) == before
    elif endpoint == "list":
        assert response.status_code == 200, body_text(response)
        ids = [row["id"] for row in response.json()["results"]]
        assert (ticket.pk in ids) == (viewer in SEES_TICKET)
    elif viewer in DOES_NOT_SEE:
        assert response.status_code == 404, body_text(response)
        assert response.json()["code"] == "not_found"
        assert ticket.reference not in body_text(response)
        assert snapshot(ticket) == before
    else:
        assert response.status_code == expected_for_visible[viewer], body_text(response)
        if response.status_code == 403:
            assert response.json()["code"] == "permission_denied"
            assert snapshot(ticket) == before
        if endpoint == "attachment_download":
            assert body_text(response) == "需要 32G 内存"


def test_matrix_covers_every_visible_viewer_for_every_endpoint():
    for _call, expected in ENDPOINTS.values():
        assert set(expected) == SEES_TICKET


# --- internal notes and files ---------------------------------------------------------------


@pytest.fixture
def marker() -> str:
    return f"INTERNAL-{uuid.uuid4().hex}"


@pytest.fixture
def internal_items(company, api, ticket, marker) -> dict[str, int]:
    """A public reply, an internal note and an internal file by the agent, all via the API."""
    agent = api(company.agent)
    reply = agent.post(f"{TICKETS}{ticket.pk}/comments/", {"body": "收到，今天处理"}, format="json")
    assert reply.status_code == 201, reply.json()
    note = agent.post(
        f"{TICKETS}{ticket.pk}/comments/",
        {"body": f"库存不足，先借用旧机 {marker}", "internal": True},
        format="json",
    )
    assert note.status_code == 201, note.json()
    assert note.json()["internal"] is True
    upload = agent.post(
        f"{TICKETS}{ticket.pk}/attachments/",
        {"file": text_file(f"quote-{marker}.txt", f"报价单 {marker}"), "internal": "true"},
        format="multipart",
    )
    assert upload.status_code == 201, upload.json()
    assert upload.json()["internal"] is True
    return {
        "reply": reply.json()["id"],
        "note": note.json()["id"],
        "internal_attachment": upload.json()["id"],
    }


def read_everything(
    client: APIClient,
    ticket: Ticket,
    public_attachment: Attachment,
    internal_attachment_id: int,
    marker: str,
) -> dict[str, HttpResponseBase]:
    base = f"{TICKETS}{ticket.pk}/"
    return {
        "list": client.get(TICKETS),
        "list_search": client.get(TICKETS, {"search": marker}),
        "retrieve": client.get(base),
        "comments": client.get(f"{base}comments/"),
        "attachments": client.get(f"{base}attachments/"),
        "events": client.get(f"{base}events/"),
        "public_download": client.get(f"{base}attachments/{public_attachment.pk}/"),
        "internal_download": client.get(f"{base}attachments/{internal_attachment_id}/"),
    }


@pytest.mark.parametrize("viewer", sorted(CONSUMER_SIDE))
def test_consumer_side_never_sees_internal_note_or_file_in_any_read(
    company, api, ticket, public_attachment, internal_items, marker, viewer
):
    client = client_for(api, company, viewer)

    responses = read_everything(
        client, ticket, public_attachment, internal_items["internal_attachment"], marker
    )

    assert responses["internal_download"].status_code == 404
    assert responses["list_search"].json()["results"] == []
    for name, response in responses.items():
        assert marker not in body_text(response), name
    for name in ("list", "retrieve", "comments", "attachments", "events", "public_download"):
        assert responses[name].status_code == 200, name
    comments = responses["comments"].json()["results"]
    assert [c["id"] for c in comments] == [internal_items["reply"]]
    assert all(c["internal"] is False for c in comments)
    timeline = responses["events"].json()["results"]
    assert all(e["internal"] is False for e in timeline)
    assert internal_items["note"] not in [e["comment"] for e in timeline]
    assert internal_items["reply"] in [e["comment"] for e in timeline]
    attachment_ids = [a["id"] for a in responses["attachments"].json()["results"]]
    assert attachment_ids == [public_attachment.pk]


def test_requester_write_responses_never_carry_the_internal_note(
    company, api, ticket, internal_items, marker
):
    client = api(company.requester)
    base = f"{TICKETS}{ticket.pk}/"

    responses = {
        "patch_title": client.patch(base, {"title": "新电脑（16寸）"}, format="json"),
        "comment": client.post(f"{base}comments/", {"body": "谢谢"}, format="json"),
        "attachment": client.post(
            f"{base}attachments/", {"file": text_file("more.txt", "补充")}, format="multipart"
        ),
        "refused_transition": client.post(
            f"{base}transitions/", {"status": "resolved"}, format="json"
        ),
        "cancel": client.post(f"{base}transitions/", {"status": "cancelled"}, format="json"),
    }

    assert [r.status_code for r in responses.values()] == [200, 201, 201, 409, 200]
    for name, response in responses.items():
        assert marker not in body_text(response), name


def test_consumer_head_write_refusals_never_carry_the_internal_note(
    company, api, ticket, internal_items, marker
):
    client = api(company.hr_head)
    base = f"{TICKETS}{ticket.pk}/"

    responses = [
        client.post(f"{base}comments/", {"body": "看看"}, format="json"),
        client.post(f"{base}transitions/", {"status": "cancelled"}, format="json"),
        client.patch(base, {"priority": "urgent"}, format="json"),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403]
    for response in responses:
        assert marker not in body_text(response)


@pytest.mark.parametrize("viewer", sorted(PROVIDER_SIDE))
def test_provider_side_sees_internal_note_and_file(
    company, api, ticket, public_attachment, internal_items, marker, viewer
):
    client = client_for(api, company, viewer)

    responses = read_everything(
        client, ticket, public_attachment, internal_items["internal_attachment"], marker
    )

    comments = responses["comments"].json()["results"]
    note = next(c for c in comments if c["id"] == internal_items["note"])
    assert note["internal"] is True
    assert marker in note["body"]
    assert marker in note["body_html"]
    timeline = responses["events"].json()["results"]
    note_events = [e for e in timeline if e["comment"] == internal_items["note"]]
    assert [(e["kind"], e["internal"]) for e in note_events] == [("commented", True)]
    assert any(e["kind"] == "attached" and e["internal"] for e in timeline)
    attachments = responses["attachments"].json()["results"]
    internal_file = next(a for a in attachments if a["id"] == internal_items["internal_attachment"])
    assert internal_file["internal"] is True
    assert responses["internal_download"].status_code == 200
    assert body_text(responses["internal_download"]) == f"报价单 {marker}"


def test_other_department_agent_gets_404_for_the_internal_file(
    company, api, ticket, internal_items, marker
):
    response = api(company.finance_agent).get(
        f"{TICKETS}{ticket.pk}/attachments/{internal_items['internal_attachment']}/"
    )

    assert response.status_code == 404
    assert marker not in body_text(response)


# --- who may write what ---------------------------------------------------------------------


@pytest.mark.parametrize("viewer", sorted(CONSUMER_SIDE))
def test_consumer_side_cannot_post_internal_note(company, api, ticket, viewer):
    client = client_for(api, company, viewer)

    response = client.post(
        f"{TICKETS}{ticket.pk}/comments/",
        {"body": "我也想写内部备注", "internal": True},
        format="json",
    )

    assert response.status_code == 403, response.json()
    assert response.json()["code"] == "permission_denied"
    assert not Comment.objects.filter(ticket=ticket, internal=True).exists()


def test_requester_cannot_upload_internal_file(company, api, ticket):
    response = api(company.requester).post(
        f"{TICKETS}{ticket.pk}/attachments/",
        {"file": text_file("secret.txt", "x"), "internal": "true"},
        format="multipart",
    )

    assert response.status_code == 403, response.json()
    assert not ticket.attachments.filter(internal=True).exists()


def test_requester_cannot_change_priority(company, api, ticket):
    response = api(company.requester).patch(
        f"{TICKETS}{ticket.pk}/", {"priority": "urgent"}, format="json"
    )

    assert response.status_code == 403, response.json()
    assert response.json()["code"] == "permission_denied"
    assert Ticket.objects.get(pk=ticket.pk).priority == ticket.priority


def test_agent_cannot_edit_title(company, api, ticket):
    response = api(company.agent).patch(
        f"{TICKETS}{ticket.pk}/", {"title": "改个标题"}, format="json"
    )

    assert response.status_code == 403, response.json()
    assert response.json()["code"] == "permission_denied"
    assert Ticket.objects.get(pk=ticket.pk).title == "新电脑"


def test_requester_edits_title_while_new(company, api, ticket):
    response = api(company.requester).patch(
        f"{TICKETS}{ticket.pk}/", {"title": "新电脑（16寸）"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["title"] == "新电脑（16寸）"


def test_agent_changes_priority(company, api, ticket):
    response = api(company.agent).patch(
        f"{TICKETS}{ticket.pk}/", {"priority": "urgent"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["priority"] == "urgent"
