"""The ticket list reads its pages by statements compiled once per shape of request (which
filters with how many values, the order, the cursor's segment; tickets.filters.
filtered_ticket_rows, issue #6). Clients must not see it: every page, cursor link and error is
byte for byte what the ORM's queryset of the same filters gave, and a statement compiled for
one viewer shows another viewer of the same shape only their own tickets.
"""

from datetime import datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from departments.models import User
from servicedesk import statements
from servicedesk.pagination import rows_after
from tests.factories import ServiceFactory, UserFactory
from tickets import api as tickets_api
from tickets import selectors, services
from tickets.filters import TicketOrderingFilter, filtered_ticket_rows
from tickets.models import Priority, Status, Ticket

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"
SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=SH)
PRIORITIES = [Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT]
STATUSES = [Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING, Status.RESOLVED]


def orm_rows(request: Request):
    """The list's rows as the view built them before statements: the ORM's queryset, filtered
    by the whole TicketFilter and ordered by TicketOrderingFilter."""
    view = tickets_api.TicketViewSet(request=request, format_kwarg=None)
    rows = selectors.visible_ticket_rows(request.user)
    rows = DjangoFilterBackend().filter_queryset(request, rows, view)
    return TicketOrderingFilter().filter_queryset(request, rows, view)


@pytest.fixture
def tickets(company) -> list[Ticket]:
    """IT and finance tickets of HR and finance requesters: ties on creation time, empty and
    repeating due times, every priority, five statuses, some breached, some assigned."""
    finance_service = ServiceFactory(department=company.finance, name="报销")
    start = NOW - timedelta(days=20)
    filed = []
    for number in range(16):
        requester = [
            UserFactory(department=company.finance),
            company.requester,
            company.other_employee,
        ][number % 3]
        service = finance_service if number % 5 == 4 else company.service
        ticket = services.file_ticket(
            requester=requester,
            service=service,
            title=f"请求 {number}",
            form_data={} if service == finance_service else {"model": "14寸"},
        )
        Ticket.objects.filter(pk=ticket.pk).update(
            created_at=start + timedelta(hours=number // 2),
            resolution_due_at=start + timedelta(days=number % 3) if number % 4 else None,
            priority=PRIORITIES[number % 4],
            status=STATUSES[number % 5],
            response_breached=number % 6 == 1,
            resolution_breached=number % 7 == 2,
            assignee=company.agent if number % 3 == 1 else None,
        )
        filed.append(ticket)
    return filed


def get_both(api, user: User, monkeypatch, url: str):
    """The compiled list's answer to `url`, once checked equal (status, bytes, query count)
    to the ORM queryset's. The user is loaded afresh for each, as for a request."""
    with CaptureQueriesContext(connection) as compiled_queries:
        compiled = api(User.objects.get(pk=user.pk)).get(url)
    with monkeypatch.context() as patched, CaptureQueriesContext(connection) as orm_queries:
        patched.setattr(tickets_api, "filtered_ticket_rows", orm_rows)
        orm = api(User.objects.get(pk=user.pk)).get(url)
    assert compiled.status_code == orm.status_code, (url, compiled.content)
    assert compiled.content == orm.content, url
    if compiled.status_code == 200:
        assert len(compiled_queries) == len(orm_queries), url
    else:  # a bad filter is refused before the caller's roles are read
        assert len(compiled_queries) <= len(orm_queries), url
    return compiled


def walk(api, user: User, monkeypatch, params: dict[str, str]) -> list[int]:
    """Every page of the list by `next`, then back by `previous`, each compared with the
    ORM's; the tickets in list order."""
    url = f"{TICKETS}?{urlencode(params)}" if params else TICKETS
    seen, backward = [], []
    first = get_both(api, user, monkeypatch, url).json()
    page = first
    for _ in range(30):
        seen += [row["id"] for row in page["results"]]
        if not page["next"]:
            break
        page = get_both(api, user, monkeypatch, page["next"]).json()
    for _ in range(30):
        backward = [row["id"] for row in page["results"]] + backward
        if not page["previous"]:
            break
        page = get_both(api, user, monkeypatch, page["previous"]).json()
    assert backward == seen
    return seen


REQUESTS = [
    {},
    {"page_size": "3"},
    {"status": "new,assigned", "page_size": "2"},
    {"status": "new,new,waiting", "page_size": "2"},  # a repeated value
    {"status": ""},
    {"priority": "urgent,low", "ordering": "-priority", "page_size": "2"},
    {"breached": "true", "page_size": "2"},
    {"breached": "false", "ordering": "resolution_due_at", "page_size": "3"},
    {"provider_department": "{it}", "ordering": "status", "page_size": "3"},
    {"provider_department": "{finance}", "page_size": "2"},  # not the caller's: looked up
    {"requester_department": "{hr}", "ordering": "-resolution_due_at", "page_size": "3"},
    {"assignee": "{agent}", "requester": "{requester}"},
    {"service": "{service}", "ordering": "priority,-resolution_due_at", "page_size": "4"},
    {"created_after": "2026-02-18T09:00:00+08:00", "created_before": "2026-02-21T00:00:00Z"},
    {"search": "", "ordering": "-status,created_at", "page_size": "3"},
    {"search": "   ", "ordering": "-updated_at", "page_size": "5"},
    {
        "provider_department": "{it}",
        "status": "new,assigned,in_progress,waiting",
        "ordering": "resolution_due_at",
        "page_size": "2",
    },
]


@pytest.mark.parametrize("params", REQUESTS, ids=lambda params: urlencode(params) or "all")
@pytest.mark.parametrize("viewer", ["agent", "it_head", "hr_head", "requester"])
def test_every_page_is_byte_for_byte_the_orm_querysets(
    company, tickets, api, monkeypatch, params, viewer
):
    ids = {
        "it": company.it.pk,
        "finance": company.finance.pk,
        "hr": company.hr.pk,
        "agent": company.agent.pk,
        "requester": company.requester.pk,
        "service": company.service.pk,
    }
    params = {name: value.format(**ids) for name, value in params.items()}
    user = getattr(company, viewer)
    with time_machine.travel(NOW, tick=False):
        shown = walk(api, user, monkeypatch, params)
    if not params:  # what was compared is the viewer's list, not an empty one
        visible = selectors.visible_tickets(user).values_list("pk", flat=True)
        assert sorted(shown) == sorted(visible)
        assert shown


BAD_REQUESTS = [
    ({"status": "bogus"}, "status"),
    ({"priority": "urgent,nope"}, "priority"),
    ({"provider_department": "999999"}, "provider_department"),
    ({"provider_department": "IT"}, "provider_department"),
    ({"requester_department": "-1"}, "requester_department"),
    ({"assignee": "0"}, "assignee"),
    ({"created_after": "yesterday"}, "created_after"),
    ({"created_before": "2026-02-30T00:00:00Z"}, "created_before"),
    ({"search": "", "priority": "URGENT"}, "priority"),
]


@pytest.mark.parametrize(("params", "field"), BAD_REQUESTS, ids=lambda p: str(p))
def test_a_bad_filter_is_the_same_400_naming_it(company, tickets, api, monkeypatch, params, field):
    response = get_both(api, company.agent, monkeypatch, f"{TICKETS}?{urlencode(params)}")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]


def test_several_bad_filters_are_named_together_in_the_same_order(
    company, tickets, api, monkeypatch
):
    url = f"{TICKETS}?created_after=soon&status=bogus&provider_department=999999"
    response = get_both(api, company.agent, monkeypatch, url)
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"status", "created_after", "provider_department"}


@pytest.mark.parametrize("cursor", ["garbage", "cD1bMV0=", "cD0lNUIlNUQ="])
def test_a_cursor_that_is_not_ours_is_a_404_as_before(company, tickets, api, monkeypatch, cursor):
    response = get_both(api, company.agent, monkeypatch, f"{TICKETS}?cursor={cursor}")
    assert response.status_code == 404


def kept_list_statements() -> dict:
    return {key: kept for key, kept in statements._kept.items() if key[0] == "rows"}


@pytest.mark.parametrize(
    ("first", "second"),
    [("agent", "finance_agent"), ("requester", "other_employee")],
)
def test_a_statement_kept_for_one_viewer_shows_another_of_its_shape_only_their_tickets(
    company, tickets, api, first, second
):
    """An IT agent and a finance agent both provide for one department (a requester and
    another employee for none): one statement serves both, bound to each one's ids."""
    statements._kept.clear()
    for viewer in (first, second):
        user = getattr(company, viewer)
        for params in ({"page_size": "200"}, {"status": "new,waiting", "page_size": "200"}):
            before = dict(kept_list_statements())
            response = api(user).get(TICKETS, params)
            assert response.status_code == 200
            shown = [row["id"] for row in response.json()["results"]]
            visible = selectors.visible_tickets(user)
            if "status" in params:
                visible = visible.filter(status__in=["new", "waiting"])
            assert sorted(shown) == sorted(visible.values_list("pk", flat=True))
            if viewer == second:  # compiled for the first viewer, and used as it was
                assert kept_list_statements() == before
    # The two viewers saw different tickets: the statement did not keep the first's.
    first_ids = {row["id"] for row in api(getattr(company, first)).get(TICKETS).json()["results"]}
    second_ids = {row["id"] for row in api(getattr(company, second)).get(TICKETS).json()["results"]}
    assert first_ids and second_ids and not first_ids & second_ids


def is_version_or_catalog_read(sql: str) -> bool:
    """The SLA configuration's version, or `selectors.catalog_names`' read of every service's
    name and department's code."""
    return "slas_config_version" in sql or (
        'FROM "tickets_service"' in sql and "UNION ALL" in sql and "WHERE" not in sql
    )


def test_a_deep_cursor_page_reads_one_statement_bound_to_its_cursor(company, tickets, api):
    """Following `next` reuses the statement of the cursor's segment: pages after the second
    compile nothing more, each one query besides the caller's roles."""
    client = api(company.agent)
    page = client.get(TICKETS, {"page_size": "2"}).json()
    page = client.get(page["next"]).json()
    kept = dict(kept_list_statements())
    shown = []
    while page["next"]:
        client = api(User.objects.get(pk=company.agent.pk))  # roles read again
        with CaptureQueriesContext(connection) as queries:
            page = client.get(page["next"]).json()
        # The caller's roles, the page; besides them the SLA configuration's version (which a
        # token's query brings along) and the catalog's names, which a committed catalog keeps
        # (tests/test_token_auth.py counts a token's list).
        reads = [q["sql"] for q in queries if not is_version_or_catalog_read(q["sql"])]
        assert len(reads) == 2, reads
        shown += [row["id"] for row in page["results"]]
    assert kept_list_statements() == kept
    assert len(shown) > 4


@pytest.mark.parametrize("term", ["请求 1", "1%", "it-"])
def test_a_search_text_is_never_a_stand_in(company, tickets, term):
    """filtered_ticket_rows with a search (the list sends a search to tickets.search, or to the
    queryset on SQLite): a LIKE pattern of the text is bound, not the text, so the text is
    the statement's shape, and the rows are the ORM's."""
    ticket = tickets[1]
    Ticket.objects.filter(pk=ticket.pk).update(title="打印机 1% 卡纸")
    request = Request(APIRequestFactory().get(TICKETS, {"search": term, "page_size": "50"}))
    request.user = company.agent
    rows = rows_after(filtered_ticket_rows(request), ("-created_at", "-id"), None, 51)
    expected = list(orm_rows(request).order_by("-created_at", "-id")[:51])
    assert [row["id"] for row in rows] == [row["id"] for row in expected]
    assert term != "1%" or [row["id"] for row in rows] == [ticket.pk]


@pytest.mark.parametrize(
    ("statuses", "index"),
    [("new,assigned,in_progress,waiting", "ticket_assignee_open_idx"), ("closed", None)],
)
def test_a_filtered_page_is_planned_for_its_values_and_read_in_order(
    company, tickets, api, statuses, index
):
    """`?assignee=`'s page: the assignee's id, the statuses and the viewer's departments are
    written into the SQL (a plan kept for any agent read a busy agent's closed tickets in
    70 ms at 1M, bench/README.md), and the page is read from the assignee's index in its
    order, without sorting the agent's tickets (migration tickets 0015), in each part of what
    the agent sees."""
    sent: list[tuple[str, list]] = []

    def record(execute, sql, params, many, context):
        sent.append((sql, list(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        page = api(company.agent).get(TICKETS, {"assignee": company.agent.pk, "status": statuses})
    assert page.status_code == 200, page.content
    [(sql, params)] = [(s, p) for s, p in sent if 'FROM "tickets_ticket"' in s]
    assert f'"assignee_id" = {company.agent.pk}' in sql
    assert set(params) == {company.agent.pk}  # the viewer's own id stays bound
    assert f'"provider_department_id" = {company.it.pk}' in sql
    assert all(f"'{status}'" in sql for status in statuses.split(","))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a small table is read whole
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # Each part of the visible tickets (tickets.selectors.visible_ticket_row_branches_of) read
    # in order, merged: no sort.
    assert (index or "ticket_assignee_idx") in plan and "Sort  (" not in plan, plan
