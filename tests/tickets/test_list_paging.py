"""The ticket list's cursor pages, in every documented ordering: following `next` to the end, or
`previous` back to the start, shows every visible ticket exactly once, in the list's order.

Empty due times sort last ascending and first descending (as PostgreSQL does); priority goes
most urgent first and status in the workflow's order (not alphabetically); ties go by id in the
order's direction. DRF's own cursor lost tickets on an empty due time (a 500) and on more
than 1,000 tickets sharing a priority.
"""

import base64
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import UserFactory
from tickets import services
from tickets.models import Priority, Status, Ticket

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"
PRIORITIES = [Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT]
STATUSES = [Status.WAITING, Status.NEW, Status.RESOLVED, Status.ASSIGNED, Status.IN_PROGRESS]
# What ?ordering=priority and ?ordering=status mean: most urgent first; the workflow's order.
BY_RANK = {
    "priority": ["urgent", "high", "normal", "low"].index,
    "status": [
        "new",
        "assigned",
        "in_progress",
        "waiting",
        "resolved",
        "closed",
        "cancelled",
    ].index,
}


@pytest.fixture
def tickets(company) -> list[Ticket]:
    start = timezone.now() - timedelta(days=30)
    filed = []
    for number in range(13):
        ticket = services.file_ticket(
            requester=UserFactory(department=company.hr),
            service=company.service,
            title=f"请求 {number}",
            form_data={"model": "14寸"},
        )
        # Ties on every field but id: two tickets per creation instant, due times repeating
        # with gaps, four priorities, five statuses.
        Ticket.objects.filter(pk=ticket.pk).update(
            created_at=start + timedelta(hours=number // 2),
            resolution_due_at=start + timedelta(days=number % 3) if number % 4 else None,
            priority=PRIORITIES[number % 4],
            status=STATUSES[number % 5],
        )
        filed.append(ticket)
    return filed


def expected_order(ordering: list[str]) -> list[int]:
    """Ticket ids sorted by hand: each key in its direction, empty values last ascending and
    first descending, then id in the first key's direction."""
    keys = [*ordering, "-id" if ordering[0].startswith("-") else "id"]
    rows = list(Ticket.objects.values("id", *(key.lstrip("-") for key in ordering)))
    for key in reversed(keys):  # stable sorts, least significant key first
        name, descending = key.lstrip("-"), key.startswith("-")
        present = sorted(
            (row for row in rows if row[name] is not None),
            key=lambda row, name=name: BY_RANK[name](row[name]) if name in BY_RANK else row[name],
            reverse=descending,
        )
        empty = [row for row in rows if row[name] is None]
        rows = empty + present if descending else present + empty
    return [row["id"] for row in rows]


def pages(client, params: dict[str, str], link: str = "next") -> list[list[int]]:
    found: list[list[int]] = []
    response = client.get(TICKETS, params)
    for _ in range(50):
        assert response.status_code == 200, response.content
        body = response.json()
        found.append([row["id"] for row in body["results"]])
        if not body[link]:
            return found
        response = client.get(TICKETS, parse_qs(urlparse(body[link]).query))
    raise AssertionError("more than 50 pages")


ORDERINGS = [
    ["-created_at"],
    ["created_at"],
    ["resolution_due_at"],
    ["-resolution_due_at"],
    ["priority"],
    ["-priority"],
    ["priority", "-resolution_due_at"],
    ["status"],
    ["-status", "created_at"],
    ["-updated_at"],
]


@pytest.mark.parametrize("ordering", ORDERINGS, ids=",".join)
def test_next_and_previous_pages_show_every_ticket_once_in_list_order(
    company, api, tickets, ordering
):
    client = api(company.agent)
    want = expected_order(ordering)
    forward = pages(client, {"ordering": ",".join(ordering), "page_size": 4})
    assert [pk for page in forward for pk in page] == want
    assert [len(page) for page in forward] == [4, 4, 4, 1]

    # From the last page back to the first, by `previous`: the same pages.
    last_page = {"ordering": ",".join(ordering), "page_size": 4}
    for _ in range(3):
        link = client.get(TICKETS, last_page).json()["next"]
        last_page = parse_qs(urlparse(link).query)
    backward = pages(client, last_page, "previous")
    assert backward[0] == forward[-1]
    assert list(reversed(backward)) == forward


def test_more_than_a_thousand_tickets_sharing_a_priority_page_through_exactly(company, api):
    template = services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="模板",
        form_data={"model": "14寸"},
    )
    fields = {
        field.attname: getattr(template, field.attname)
        for field in Ticket._meta.concrete_fields
        if not field.primary_key
    }
    Ticket.objects.bulk_create(
        Ticket(**{**fields, "reference": f"BULK-{number:05}"}) for number in range(1300)
    )
    client = api(company.agent)
    found = pages(client, {"ordering": "priority", "page_size": 200})
    ids = [pk for page in found for pk in page]
    assert len(ids) == len(set(ids)) == 1301
    assert ids == sorted(ids)  # one priority: by id


def cursor(tokens: dict[str, str]) -> str:
    return base64.b64encode(urlencode(tokens).encode()).decode()


@pytest.mark.parametrize(
    "value",
    [
        cursor({"o": "0", "r": "0", "p": "2026-11-20 07:00:48+00:00"}),  # DRF's own format
        cursor({"o": "0", "r": "0", "p": '["not a time",3]'}),
        cursor({"o": "0", "r": "0", "p": '["2026-11-20T07:00:48+00:00"]'}),  # a key short
        cursor({"o": "0", "r": "0", "p": '{"a":1}'}),
        "not-base64!",
    ],
)
def test_a_cursor_that_is_not_ours_is_a_404_not_an_error(company, api, tickets, value):
    response = api(company.agent).get(TICKETS, {"cursor": value}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Invalid cursor"}


@pytest.mark.parametrize(
    ("ordering", "index"),
    [
        # Newest first, each part of what the agent sees (their own requests, their
        # department's tickets) along its own index, merged (tickets.selectors.
        # visible_ticket_row_branches_of).
        ("-created_at", "ticket_provider_created_idx"),
        ("resolution_due_at", "ticket_resolution_due_idx"),
        ("-resolution_due_at", "ticket_resolution_due_idx"),
        ("response_due_at", "ticket_response_due_idx"),
        ("-updated_at", "ticket_updated_idx"),
        ("priority", "ticket_priority_rank_idx"),
        ("-priority", "ticket_priority_rank_idx"),
        ("status", "ticket_status_rank_idx"),
    ],
)
def test_a_page_in_each_indexed_order_is_read_off_its_index_without_sorting(
    company, api, tickets, ordering, index
):
    """At a million tickets a sort of every visible ticket took 250-400 ms a page; the first and
    the deep pages must be a walk along an index in the list's order (NULL placement included)."""
    client = api(company.agent)
    first = client.get(TICKETS, {"ordering": ordering, "page_size": 4})
    with CaptureQueriesContext(connection) as captured:
        client.get(TICKETS, parse_qs(urlparse(first.json()["next"]).query))
    page_queries = [query["sql"] for query in captured.captured_queries if "LIMIT" in query["sql"]]
    assert page_queries
    for sql in page_queries:  # an empty due time's rows after the others: a second range
        with connection.cursor() as cursor:
            # Small test tables are sorted whole; forbid that to see whether an index can serve.
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert index in plan
        assert "Sort  (" not in plan, plan  # a Merge Append's "Sort Key" merges sorted parts
        # The deep page starts where the cursor points: a range of the index, not a filter
        # over every ticket before it.
        key = ordering.lstrip("-")
        assert any(key in line for line in plan.splitlines() if "Index Cond" in line), plan
