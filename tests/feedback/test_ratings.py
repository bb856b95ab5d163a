"""Ticket ratings (DESIGN §2 "Feedback", §3 `tickets/{id}/rating/`): one peak-end rating per
ticket by its requester, editable until the ticket is closed; a low score may reopen it; on each
resolution the requester is asked to rate, once, in-app and by email."""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from feedback import outbox
from feedback.models import OutboundEmail, TicketRating
from feedback.ratings import rate_ticket, request_rating
from servicedesk.errors import Conflict, InvalidInput, InvalidTransition, NotAllowed
from tests.factories import UserFactory
from tests.feedback.rating_helpers import GOOD, closed_ticket, filed_ticket, resolved_ticket
from tickets import services
from tickets.models import Notification, Status, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


def url(ticket: Ticket) -> str:
    return f"/api/v1/tickets/{ticket.pk}/rating/"


# --- the service ------------------------------------------------------------------------------


def test_requester_rates_a_resolved_ticket_for_its_provider_and_agent(company):
    ticket = resolved_ticket(company)
    rating = rate_ticket(user=company.requester, ticket=ticket, **GOOD)
    assert (rating.score, rating.end_score) == (4, 5)
    assert (rating.best_moment, rating.worst_moment) == ("expertise", "speed")
    assert rating.provider_department == company.it
    assert rating.agent == company.agent
    event = ticket.events.get(kind=TicketEvent.Kind.RATED)
    assert event.internal is False and event.actor == company.requester
    assert event.to_value == "4/5"


@pytest.mark.parametrize("who", ["other_employee", "agent", "it_head", "hr_head"])
def test_nobody_but_the_requester_may_rate(company, who):
    ticket = resolved_ticket(company)
    with pytest.raises(NotAllowed):
        rate_ticket(user=getattr(company, who), ticket=ticket, **GOOD)
    assert not TicketRating.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"score": 0}, "score"),
        ({"score": 6}, "score"),
        ({"end_score": 9}, "end_score"),
        ({"best_moment": "coffee"}, "best_moment"),
        ({"best_moment": "speed", "worst_moment": "speed"}, "worst_moment"),
        ({"comment": "x" * 5001}, "comment"),
        ({"reopen": True}, "reopen"),  # a score of 4 cannot reopen
    ],
)
def test_bad_rating_is_refused_naming_the_field(company, changes, field):
    ticket = resolved_ticket(company)
    with pytest.raises(InvalidInput) as refused:
        rate_ticket(user=company.requester, ticket=ticket, **{**GOOD, **changes})
    assert field in refused.value.fields
    assert not TicketRating.objects.exists()


def test_moments_are_optional(company):
    ticket = resolved_ticket(company)
    rating = rate_ticket(user=company.requester, ticket=ticket, score=3, end_score=3)
    assert (rating.best_moment, rating.worst_moment, rating.comment) == ("", "", "")


def test_an_open_ticket_cannot_be_rated_yet(company):
    ticket = filed_ticket(company)
    with pytest.raises(Conflict):
        rate_ticket(user=company.requester, ticket=ticket, **GOOD)


def test_one_rating_per_ticket_edited_while_resolved_and_frozen_once_closed(company):
    ticket = resolved_ticket(company)
    rate_ticket(user=company.requester, ticket=ticket, **GOOD)
    rate_ticket(user=company.requester, ticket=ticket, **{**GOOD, "score": 5})
    assert TicketRating.objects.get().score == 5
    events = ticket.events.filter(kind=TicketEvent.Kind.RATED).order_by("id")
    assert [(e.from_value, e.to_value) for e in events] == [("", "4/5"), ("4/5", "5/5")]
    services.transition_ticket(ticket=ticket, actor=company.requester, status=Status.CLOSED)
    with pytest.raises(Conflict):
        rate_ticket(user=company.requester, ticket=ticket, **{**GOOD, "score": 1})
    assert TicketRating.objects.get().score == 5


def test_a_closed_ticket_never_rated_can_still_get_its_first_rating(company):
    ticket = closed_ticket(company)
    rating = rate_ticket(user=company.requester, ticket=ticket, **GOOD)
    assert rating.pk and Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED


def test_low_score_with_reopen_sends_the_ticket_back_to_in_progress(company):
    ticket = resolved_ticket(company)
    rate_ticket(
        user=company.requester,
        ticket=ticket,
        score=2,
        end_score=1,
        worst_moment="resolution",
        reopen=True,
    )
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS and ticket.resolved_at is None
    assert TicketRating.objects.get(ticket=ticket).score == 2
    reopened = ticket.events.get(kind=TicketEvent.Kind.REOPENED)
    assert reopened.actor == company.requester


def test_low_score_without_reopen_leaves_the_ticket_resolved(company):
    ticket = resolved_ticket(company)
    rate_ticket(user=company.requester, ticket=ticket, score=1, end_score=1)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED


def test_reopen_after_the_window_is_refused_and_nothing_is_saved(company, settings):
    ticket = resolved_ticket(company)
    Ticket.objects.filter(pk=ticket.pk).update(
        resolved_at=timezone.now() - timedelta(days=settings.TICKET_REOPEN_WINDOW_DAYS + 1)
    )
    with pytest.raises(InvalidTransition):
        rate_ticket(user=company.requester, ticket=ticket, score=1, end_score=1, reopen=True)
    assert not TicketRating.objects.exists()
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED


# --- asking for a rating on resolution ---------------------------------------------------------


def rating_requests(ticket: Ticket) -> tuple[list[Notification], list[OutboundEmail]]:
    notes = list(Notification.objects.filter(ticket=ticket, kind="rating_request"))
    emails = list(OutboundEmail.objects.filter(key__startswith=f"rate:{ticket.pk}:"))
    return notes, emails


def test_resolving_asks_the_requester_once_in_app_and_by_email(company):
    ticket = resolved_ticket(company)
    notes, emails = rating_requests(ticket)
    resolved = ticket.events.get(kind=TicketEvent.Kind.RESOLVED)
    key = f"rate:{ticket.pk}:{resolved.pk}"
    assert [(n.user, n.source_key, n.url) for n in notes] == [
        (company.requester, key, f"/tickets/{ticket.reference}/#rating")
    ]
    assert [(e.recipient, e.key) for e in emails] == [(company.requester, key)]
    # The row is in the outbox before any worker ran: a broker outage loses nothing.
    assert emails[0].sent_at is None


def test_asking_twice_for_the_same_resolution_sends_one_email_and_one_notification(company):
    ticket = resolved_ticket(company)
    resolved = ticket.events.get(kind=TicketEvent.Kind.RESOLVED)
    assert request_rating(ticket_id=ticket.pk, resolved_event_id=resolved.pk) is False
    request_rating(ticket_id=ticket.pk, resolved_event_id=resolved.pk)
    notes, emails = rating_requests(ticket)
    assert len(notes) == 1 and len(emails) == 1
    assert outbox.deliver_pending() == 1
    assert outbox.deliver_pending() == 0
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [company.requester.email]
    assert f"/tickets/{ticket.reference}/#rating" in mail.outbox[0].body


def test_each_resolution_asks_again(company):
    ticket = resolved_ticket(company)
    services.transition_ticket(ticket=ticket, actor=company.requester, status=Status.IN_PROGRESS)
    services.transition_ticket(ticket=ticket, actor=company.agent, status=Status.RESOLVED)
    notes, emails = rating_requests(ticket)
    assert len(notes) == 2 and len(emails) == 2


def test_history_loaded_with_notifications_muted_asks_nobody(company):
    with services.notifications_muted():
        ticket = resolved_ticket(company)
    assert rating_requests(ticket) == ([], [])


# --- the API ----------------------------------------------------------------------------------

SEES = {
    "requester": 200,
    "other_employee": 404,
    "agent": 200,
    "it_head": 200,
    "hr_head": 200,
    "finance_agent": 404,
}
WRITES = {
    "requester": 201,
    "other_employee": 404,
    "agent": 403,
    "it_head": 403,
    "hr_head": 403,
    "finance_agent": 404,
}


@pytest.mark.parametrize(("who", "expected"), SEES.items())
def test_api_rating_is_read_by_whoever_sees_the_ticket(company, api, who, expected):
    ticket = resolved_ticket(company)
    rate_ticket(user=company.requester, ticket=ticket, **GOOD)
    response = api(getattr(company, who)).get(url(ticket))
    assert response.status_code == expected, response.content
    if expected == 200:
        body = response.json()
        assert {k: body[k] for k in GOOD} == GOOD
        assert body["ticket"] == ticket.pk


@pytest.mark.parametrize(("who", "expected"), WRITES.items())
def test_api_rating_is_written_by_the_requester_only(company, api, who, expected):
    ticket = resolved_ticket(company)
    response = api(getattr(company, who)).put(url(ticket), GOOD, format="json")
    assert response.status_code == expected, response.content
    assert TicketRating.objects.exists() == (expected == 201)
    if expected == 403:
        assert response.json()["code"] == "permission_denied"


def test_api_get_is_404_before_any_rating(company, api):
    ticket = resolved_ticket(company)
    assert api(company.requester).get(url(ticket)).status_code == 404


def test_api_put_creates_then_updates(company, api):
    ticket = resolved_ticket(company)
    client = api(company.requester)
    assert client.put(url(ticket), GOOD, format="json").status_code == 201
    response = client.put(url(ticket), {**GOOD, "score": 3, "comment": ""}, format="json")
    assert response.status_code == 200
    assert (response.json()["score"], response.json()["comment"]) == (3, "")
    assert TicketRating.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GOOD, "score": 6}, "score"),
        ({**GOOD, "score": "great"}, "score"),
        ({k: v for k, v in GOOD.items() if k != "end_score"}, "end_score"),
        ({**GOOD, "best_moment": "coffee"}, "best_moment"),
        ({**GOOD, "worst_moment": "expertise"}, "worst_moment"),  # same as best
        ({**GOOD, "reopen": True}, "reopen"),
    ],
)
def test_api_bad_input_is_400_naming_the_field(company, api, body, field):
    ticket = resolved_ticket(company)
    response = api(company.requester).put(url(ticket), body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]


def test_api_edit_after_close_is_409(company, api):
    ticket = resolved_ticket(company)
    client = api(company.requester)
    client.put(url(ticket), GOOD, format="json")
    services.transition_ticket(ticket=ticket, actor=company.requester, status=Status.CLOSED)
    response = client.put(url(ticket), {**GOOD, "score": 1}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "conflict"


def test_api_rating_an_open_ticket_is_409(company, api):
    ticket = filed_ticket(company)
    response = api(company.requester).put(url(ticket), GOOD, format="json")
    assert response.status_code == 409


def test_api_low_score_reopens_on_request(company, api):
    ticket = resolved_ticket(company)
    body = {"score": 1, "end_score": 1, "worst_moment": "resolution", "reopen": True}
    response = api(company.requester).put(url(ticket), body, format="json")
    assert response.status_code == 201, response.content
    assert Ticket.objects.get(pk=ticket.pk).status == Status.IN_PROGRESS


def test_api_rating_needs_sign_in(company, api):
    ticket = resolved_ticket(company)
    assert api().get(url(ticket)).status_code in (401, 403)


def test_api_rating_query_counts_are_fixed(company, api, django_assert_max_num_queries):
    ticket = resolved_ticket(company)
    client = api(company.requester)
    with django_assert_max_num_queries(12):
        assert client.put(url(ticket), GOOD, format="json").status_code == 201
    with django_assert_max_num_queries(4):
        assert client.get(url(ticket)).status_code == 200


def test_schema_documents_the_rating_endpoint_with_its_errors(company, api):
    schema = json.loads(api(UserFactory()).get("/api/schema/?format=json").content)
    item = schema["paths"]["/api/v1/tickets/{id}/rating/"]
    assert {"400", "403", "404", "409"} <= set(item["put"]["responses"])
    assert {"200", "201"} <= set(item["put"]["responses"])
    assert {"200", "404"} <= set(item["get"]["responses"])
    put_body = item["put"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][put_body.rsplit("/", 1)[1]]["properties"]
    assert {"score", "best_moment", "worst_moment", "end_score", "comment", "reopen"} <= set(fields)
