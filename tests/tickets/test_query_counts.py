"""List and detail endpoints issue a fixed number of queries however many rows they show.

STYLE "APIs and pages": select_related/prefetch_related live in the selector the view uses,
and a test pins the query count. Each case measures a small and a large data set and asserts
both stay under the same pinned bound (and are equal: no per-row query slipped in).
"""

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from departments.models import Membership, User
from tests.factories import DepartmentFactory, ServiceFactory, UserFactory, make_member
from tickets import services
from tickets.models import Status, Ticket

pytestmark = pytest.mark.django_db

# Pinned bounds: role lookup + rows (+ prefetches / page count). Raise only with a reason.
# A ticket's row also names its service and department from the catalog's names
# (selectors.catalog_names), which a process keeps under the SLA configuration's version once
# they are committed. These tests' catalog never is, and their clients have no token, whose query
# would bring the version along: both are read (tests/test_token_auth.py pins a token's list
# at 2 queries).
TICKET_LIST_QUERIES = 4  # memberships, the version, tickets joined to their summaries, catalog
TICKET_DETAIL_QUERIES = 4  # memberships, the version, the ticket, the catalog's names
TICKET_EVENTS_QUERIES = 3  # memberships, the ticket, a page of events joined to actors
TICKET_COMMENTS_QUERIES = 4  # memberships, the ticket, comments joined to authors, attachments
TICKET_ATTACHMENTS_QUERIES = 3  # memberships, the ticket, attachments joined to uploaders
SERVICE_LIST_QUERIES = 4  # memberships, page count, services, allowed consumer departments


def count_queries(
    api: Callable[[User], Any], user: User, url: str, *, bound: int
) -> tuple[int, Any]:
    """Queries one GET issues (at most `bound`), for a user loaded afresh as a request would."""
    client = api(User.objects.get(pk=user.pk))  # no role cache carried between requests
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    sql = "\n".join(query["sql"] for query in captured.captured_queries)
    assert len(captured) <= bound, f"{url}: {len(captured)} queries, not {bound} or fewer\n{sql}"
    return len(captured), response


def file_tickets(company, count: int, *, start: int = 0) -> list[Ticket]:
    """`count` tickets from different requesters (several departments), several assignees."""
    agents = [company.agent, company.agent2, company.it_head]
    agents += [
        make_member(company.it, Membership.Role.AGENT, department=company.it) for _ in range(3)
    ]
    consumer_departments = [company.hr, company.finance, *(DepartmentFactory() for _ in range(3))]
    tickets = []
    for number in range(start, start + count):
        requester = UserFactory(department=consumer_departments[number % len(consumer_departments)])
        ticket = services.file_ticket(
            requester=requester,
            service=company.service,
            title=f"请求 {number}",
            form_data={"model": "14寸"},
        )
        if number % 4:
            ticket = services.transition_ticket(
                ticket=ticket,
                actor=company.it_head,
                status=Status.ASSIGNED,
                assignee=agents[number % len(agents)],
            )
        tickets.append(ticket)
    return tickets


def test_ticket_list_query_count_does_not_grow_with_rows(company, api):
    file_tickets(company, 5)
    few, response = count_queries(api, company.agent, "/api/v1/tickets/", bound=TICKET_LIST_QUERIES)
    assert len(response.json()["results"]) == 5

    file_tickets(company, 55, start=5)
    many, response = count_queries(
        api, company.agent, "/api/v1/tickets/", bound=TICKET_LIST_QUERIES
    )
    assert len(response.json()["results"]) == 50  # one full page of 60
    assert {row["assignee"] for row in response.json()["results"]} - {None}
    assert many == few


def test_ticket_list_for_a_consumer_head_is_bounded_too(company, api):
    file_tickets(company, 5)
    few, _ = count_queries(api, company.hr_head, "/api/v1/tickets/", bound=TICKET_LIST_QUERIES)
    file_tickets(company, 40, start=5)
    many, response = count_queries(
        api, company.hr_head, "/api/v1/tickets/?status=new,assigned", bound=TICKET_LIST_QUERIES
    )
    assert response.json()["results"]
    assert many == few


def test_ticket_list_page_size_and_filters_do_not_add_queries(company, api):
    file_tickets(company, 60)
    _, response = count_queries(
        api,
        company.agent,
        "/api/v1/tickets/?page_size=200&ordering=-priority&status=new,assigned",
        bound=TICKET_LIST_QUERIES,
    )
    assert len(response.json()["results"]) == 60
    cursor_url = api(company.agent).get("/api/v1/tickets/?page_size=20").json()["next"]
    count_queries(api, company.agent, cursor_url, bound=TICKET_LIST_QUERIES)


def busy_ticket(company, *, comments: int, attachments: int) -> Ticket:
    """A ticket with a long conversation between several people, notes, files and moves."""
    ticket = services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="邮箱无法登录",
        form_data={"model": "16寸"},
    )
    ticket = services.transition_ticket(
        ticket=ticket, actor=company.it_head, status=Status.ASSIGNED, assignee=company.agent
    )
    ticket = services.transition_ticket(
        ticket=ticket, actor=company.agent, status=Status.IN_PROGRESS
    )
    authors = [
        (company.requester, False),
        (company.agent, False),
        (company.agent2, True),
        (company.it_head, False),
        (company.agent, True),
    ]
    for number in range(comments):
        author, internal = authors[number % len(authors)]
        services.add_comment(
            ticket=ticket, author=author, body=f"第 {number} 条 **回复**", internal=internal
        )
    for number in range(attachments):
        uploader = company.requester if number % 2 else company.agent2
        services.add_attachment(
            ticket=ticket,
            uploaded_by=uploader,
            upload=SimpleUploadedFile(f"log{number}.txt", b"line\n" * 3),
        )
    return Ticket.objects.get(pk=ticket.pk)


@pytest.mark.parametrize("viewer", ["agent", "requester"])
def test_ticket_detail_events_comments_and_attachments_query_counts_do_not_grow(
    company, api, viewer
):
    small = busy_ticket(company, comments=2, attachments=1)
    large = busy_ticket(company, comments=60, attachments=12)
    endpoints = {
        "": TICKET_DETAIL_QUERIES,
        "events/": TICKET_EVENTS_QUERIES,
        "comments/": TICKET_COMMENTS_QUERIES,
        "attachments/": TICKET_ATTACHMENTS_QUERIES,
    }
    user = getattr(company, viewer)
    for suffix, bound in endpoints.items():
        counts = []
        for ticket in (small, large):
            url = f"/api/v1/tickets/{ticket.pk}/{suffix}"
            queries, response = count_queries(api, user, url, bound=bound)
            counts.append(queries)
        assert counts[0] == counts[1], (suffix, counts)
    # The large ticket really has many rows on the pages measured above.
    client = api(user)
    assert len(client.get(f"/api/v1/tickets/{large.pk}/events/").json()["results"]) > 40
    assert len(client.get(f"/api/v1/tickets/{large.pk}/comments/").json()["results"]) >= 36


@pytest.mark.parametrize("viewer", ["requester", "it_head"])
def test_service_list_query_count_does_not_grow_with_services(company, api, viewer):
    user = getattr(company, viewer)
    few, _ = count_queries(api, user, "/api/v1/services/", bound=SERVICE_LIST_QUERIES)

    providers = [company.it, company.finance, *(DepartmentFactory() for _ in range(4))]
    for number in range(45):
        service = ServiceFactory(
            department=providers[number % len(providers)],
            category=f"类别{number % 5}",
            is_active=bool(number % 7),
        )
        if number % 3 == 0:
            service.allowed_consumers.set([company.hr, company.finance])
    many, response = count_queries(api, user, "/api/v1/services/", bound=SERVICE_LIST_QUERIES)
    assert len(response.json()["results"]) > 30
    assert many == few
