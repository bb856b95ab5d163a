"""The agent's department queue page: who sees it, filters, due-time sort, badges, paging,
bulk assignment and its query budget."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.template.defaultfilters import date as date_filter
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from django.utils.timezone import localtime

from departments.models import Membership
from slas.models import BusinessCalendar, SlaPolicy
from tests.factories import ServiceFactory, make_member
from tickets import queue_views, services
from tickets.dates import ShortDatetimes
from tickets.models import Status, Ticket

pytestmark = pytest.mark.django_db

# Pinned: session, user, roles with the unread count, departments with their agents, services
# (filter), one page of tickets, SLA policy and calendar (time left). Raise only with a reason.
QUEUE_PAGE_QUERIES = 8

SH = ZoneInfo("Asia/Shanghai")
# Monday 23 Nov 2026, inside the default working hours (09–12, 13–18).
MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=SH)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
TARGETS = {
    "urgent": {"response": 30, "resolution": 240},
    "high": {"response": 60, "resolution": 480},
    "normal": {"response": 120, "resolution": 960},
    "low": {"response": 480, "resolution": 2400},
}


@pytest.fixture
def it_policy(company) -> SlaPolicy:
    return make_it_policy(company)


def make_it_policy(company) -> SlaPolicy:
    """IT's default policy: TARGETS on Mon–Fri 09–12 and 13–18 (2026 and 2027), warning at 75%."""
    calendar = BusinessCalendar.objects.create(
        name="标准工作日",
        timezone="Asia/Shanghai",
        working_hours={
            **{day: [["09:00", "12:00"], ["13:00", "18:00"]] for day in WEEKDAYS},
            "sat": [],
            "sun": [],
        },
        years=[2026, 2027],
    )
    policy = SlaPolicy.objects.create(
        name="IT 标准", calendar=calendar, targets=TARGETS, warning_percent=75
    )
    company.it.default_sla_policy = policy
    company.it.save(update_fields=["default_sla_policy"])
    return policy


@pytest.fixture
def at_monday():
    with time_machine.travel(MONDAY_9, tick=False) as traveller:
        yield traveller


def file(company, title: str = "电脑坏了", priority: str = "normal", service=None) -> Ticket:
    return services.file_ticket(
        requester=company.requester,
        service=service or company.service,
        title=title,
        priority=priority,
        form_data={"model": "14寸"} if service is None else {},
    )


def finance_ticket(company) -> Ticket:
    service = ServiceFactory(department=company.finance, name="报销")
    return file(company, title="报销单", service=service)


def page(client, query: str = "", language: str = "en", **headers) -> str:
    response = client.get(f"/queue/{query}", HTTP_ACCEPT_LANGUAGE=language, **headers)
    assert response.status_code == 200
    return response.content.decode()


def test_agent_sees_the_departments_tickets_and_not_another_providers(client, company):
    mine = file(company, title="显示器坏了")
    theirs = finance_ticket(company)
    client.force_login(company.agent)
    text = page(client)
    assert mine.reference in text and "显示器坏了" in text
    assert f'href="/tickets/{mine.reference}/"' in text
    assert "人力资源部" in text  # the requester's department
    assert theirs.reference not in text and "报销单" not in text


def test_requester_who_is_no_agent_is_refused_with_a_page(client, company):
    file(company)
    client.force_login(company.requester)
    response = client.get("/queue/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 403
    assert "not an agent of any department" in response.content.decode()
    assert client.post("/queue/assign/", {"department": company.it.pk}).status_code == 403


def test_page_needs_sign_in(client):
    response = client.get("/queue/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_agent_of_two_departments_picks_one(client, company):
    Membership.objects.create(
        user=company.agent, department=company.finance, role=Membership.Role.AGENT
    )
    it_ticket = file(company)
    fin_ticket = finance_ticket(company)
    client.force_login(company.agent)
    first = page(client)
    assert '<select name="department"' in first and "财务部" in first
    finance = page(client, f"?department={company.finance.pk}")
    assert fin_ticket.reference in finance and it_ticket.reference not in finance
    # A department the agent does not serve is an error, not someone else's queue.
    text = page(client, f"?department={company.hr.pk}")
    assert 'role="alert"' in text
    assert (fin_ticket.reference in text) != (it_ticket.reference in text)


def test_default_shows_open_statuses_and_status_filter_works(client, company):
    open_ticket = file(company, title="打印机")
    cancelled = file(company, title="已取消的")
    Ticket.objects.filter(pk=cancelled.pk).update(status=Status.CANCELLED)
    client.force_login(company.agent)
    text = page(client)
    assert open_ticket.reference in text and cancelled.reference not in text
    text = page(client, "?status=cancelled")
    assert cancelled.reference in text and open_ticket.reference not in text


def test_unassigned_and_me_filters(client, company):
    unassigned = file(company, title="无人处理")
    mine = file(company, title="我的")
    services.update_ticket(ticket=mine, actor=company.agent, assignee=company.agent)
    other = file(company, title="别人的")
    services.update_ticket(ticket=other, actor=company.agent, assignee=company.agent2)
    client.force_login(company.agent)
    text = page(client, "?assignee=unassigned")
    assert unassigned.reference in text
    assert mine.reference not in text and other.reference not in text
    text = page(client, "?assignee=me")
    assert mine.reference in text
    assert unassigned.reference not in text and other.reference not in text
    text = page(client, f"?assignee={company.agent2.pk}")
    assert other.reference in text and mine.reference not in text


def test_breached_filter_and_badge(client, company):
    late = file(company, title="超时的")
    on_time = file(company, title="按时的")
    Ticket.objects.filter(pk=late.pk).update(response_breached=True)
    client.force_login(company.agent)
    text = page(client, "?breached=yes")
    assert late.reference in text and on_time.reference not in text
    assert '<span class="badge breach">breached</span>' in text
    text = page(client, "?breached=no")
    assert on_time.reference in text and late.reference not in text


def test_sorted_by_resolution_due_time_by_default_and_by_created_on_request(
    client, company, it_policy, at_monday
):
    # Filed at the same instant, the targets decide: urgent 4 h < high 8 h < low 40 h.
    low = file(company, title="低", priority="low")
    urgent = file(company, title="紧急", priority="urgent")
    high = file(company, title="高", priority="high")
    client.force_login(company.agent)
    text = page(client)
    assert text.index(urgent.reference) < text.index(high.reference) < text.index(low.reference)
    text = page(client, "?sort=created")
    assert text.index(high.reference) < text.index(urgent.reference) < text.index(low.reference)
    text = page(client, "?sort=response_due")
    assert text.index(urgent.reference) < text.index(high.reference) < text.index(low.reference)


def test_warning_badge_and_remaining_business_minutes(client, company, it_policy, at_monday):
    urgent = file(company, title="紧急", priority="urgent")
    assert urgent.sla_policy_id == it_policy.pk
    at_monday.move_to(datetime(2026, 11, 23, 9, 25, tzinfo=SH))
    client.force_login(company.agent)
    text = page(client)
    # Response: 25 of 30 minutes used (83 % ≥ the policy's 75 %); resolution: 25 of 240.
    assert '<span class="badge warning">warning</span>' in text
    assert text.count('class="badge warning"') == 1
    assert "5 business minutes left" in text
    assert "215 business minutes left" in text


def test_bad_filter_values_show_errors_not_a_server_error(client, company):
    ticket = file(company)
    client.force_login(company.agent)
    text = page(client, "?status=nonsense&priority=extreme&service=abc&sort=random&after=zz~x")
    assert 'role="alert"' in text
    assert "Select a valid choice" in text
    # The default filters still apply: the open ticket is listed.
    assert ticket.reference in text


def test_htmx_request_gets_only_the_table(client, company):
    ticket = file(company)
    client.force_login(company.agent)
    text = page(client, "?priority=normal", HTTP_HX_REQUEST="true")
    assert ticket.reference in text
    assert "<html" not in text and "<table" in text


def test_bulk_assign_assigns_visible_tickets_and_ignores_a_smuggled_one(client, company):
    first = file(company, title="一")
    second = file(company, title="二")
    smuggled = finance_ticket(company)
    client.force_login(company.agent)
    response = client.post(
        "/queue/assign/",
        {
            "department": company.it.pk,
            "assignee": company.agent2.pk,
            "ticket": [first.pk, second.pk, smuggled.pk],
            "query": "status=new&sort=created",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/queue/?")
    assert "sort=created" in response["Location"]
    assert f"department={company.it.pk}" in response["Location"]
    for ticket in (first, second):
        ticket.refresh_from_db()
        assert ticket.assignee == company.agent2
        assert ticket.status == Status.ASSIGNED
    smuggled.refresh_from_db()
    assert smuggled.assignee is None and smuggled.status == Status.NEW
    text = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"Assigned 2 tickets to {company.agent2.get_full_name()}." in text
    assert "1 not found in this queue." in text


def test_bulk_assign_reports_tickets_the_service_refuses(client, company):
    fine = file(company, title="可以")
    closed = file(company, title="已关闭")
    Ticket.objects.filter(pk=closed.pk).update(status=Status.CLOSED)
    client.force_login(company.agent)
    response = client.post(
        "/queue/assign/",
        {"department": company.it.pk, "assignee": company.agent.pk, "ticket": [fine.pk, closed.pk]},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    text = response.content.decode()
    assert f"Assigned 1 ticket to {company.agent.get_full_name()}." in text
    assert f"1 refused: {closed.reference}" in text
    fine.refresh_from_db()
    assert fine.assignee == company.agent


def test_bulk_assign_to_someone_outside_the_department_is_refused(client, company):
    ticket = file(company)
    client.force_login(company.agent)
    response = client.post(
        "/queue/assign/",
        {"department": company.it.pk, "assignee": company.finance_agent.pk, "ticket": [ticket.pk]},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    assert "Select a valid choice" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.assignee is None
    # Nor may an agent post into a queue they do not serve.
    response = client.post(
        "/queue/assign/",
        {"department": company.finance.pk, "assignee": company.agent.pk, "ticket": [ticket.pk]},
    )
    assert response.status_code == 403


@pytest.mark.parametrize(("language", "expected"), [("zh-hans", "队列"), ("en", "Queue of")])
def test_page_speaks_both_languages(client, company, language, expected):
    file(company)
    client.force_login(company.agent)
    text = page(client, language=language)
    assert expected in text


def test_query_count_is_the_same_for_5_or_60_tickets_and_pages_by_keyset(
    client, company, it_policy, at_monday
):
    head = make_member(company.it, Membership.Role.HEAD, username="ithead2")
    client.force_login(head)
    page(client)  # warm up

    def count_queries() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            text = page(client)
        ticket_queries = [q["sql"] for q in queries if '"tickets_ticket"' in q["sql"]]
        assert ticket_queries and not any("COUNT(" in sql.upper() for sql in ticket_queries)
        return len(queries), text

    for _ in range(5):
        file(company, priority="high")
    few, text = count_queries()
    assert few <= QUEUE_PAGE_QUERIES, few
    assert text.count('name="ticket"') == 5
    assert 'rel="next"' not in text
    for _ in range(55):
        file(company, priority="urgent")
    many, text = count_queries()
    assert many == few, (few, many)
    assert text.count('name="ticket"') == 50
    assert 'rel="next"' in text
    # The next page holds the remaining 10, none repeated.
    next_href = text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    first_ids = {t.split('"')[0] for t in text.split('name="ticket" value="')[1:]}
    second = page(client, next_href.replace("&amp;", "&"))
    second_ids = {t.split('"')[0] for t in second.split('name="ticket" value="')[1:]}
    assert len(second_ids) == 10 and not first_ids & second_ids


def test_filters_and_sorts_do_not_add_queries(client, company, it_policy, at_monday):
    ticket = file(company, priority="high")
    client.force_login(company.agent)
    counts = {}
    for query in (
        "",
        f"?service={company.service.pk}&priority=high&assignee=unassigned&breached=no",
        "?sort=priority&status=new&status=assigned",
        f"?service={company.service.pk}&sort=created&after=bogus",
        "?service=999999",  # not a service of the queue: an error, the same queries
    ):
        with CaptureQueriesContext(connection) as queries:
            text = page(client, query)
        counts[query] = len(queries)
        assert len(queries) <= QUEUE_PAGE_QUERIES, (query, len(queries))
    assert ticket.reference in text  # the bad service value is reported, not applied
    assert "Select a valid choice" in text
    assert len(set(counts.values())) == 1, counts


def test_overdue_badge_until_the_sweep_marks_the_breach(client, company, it_policy, at_monday):
    urgent = file(company, title="紧急", priority="urgent")
    # Urgent: respond within 30 business minutes of 09:00; at 09:40 that is 10 minutes ago.
    at_monday.move_to(datetime(2026, 11, 23, 9, 40, tzinfo=SH))
    client.force_login(company.agent)
    text = page(client)
    urgent.refresh_from_db()
    assert not urgent.response_breached  # the sweep has not run
    assert '<span class="badge breach">overdue by 10 business minutes</span>' in text
    # Resolution (240 minutes) is still running: 200 left, a sixth used (< 75 %): no warning.
    assert '<span class="remaining">200 business minutes left</span>' in text
    assert 'class="badge warning"' not in text
    due = '<time datetime="2026-11-23T09:30:00+08:00">11/23/2026 9:30 a.m.</time>'
    assert due in text
    chinese = page(client, language="zh-hans")
    assert "已超时 10 个工作分钟" in chinese and "剩余 200 个工作分钟" in chinese
    assert "2026年11月23日 09:30" in chinese


def test_queue_page_query_needs_no_distinct_sort(client, company):
    """The status filter joins nothing, so the page's ticket query must not be SELECT DISTINCT:
    at a million tickets DISTINCT sorts every match before the first page (bench/README.md)."""
    services.file_ticket(
        requester=company.requester, service=company.service, title="x", form_data={"model": "14寸"}
    )
    client.force_login(company.agent)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/queue/?status=new&status=assigned")
    assert response.status_code == 200
    ticket_selects = [q["sql"] for q in queries if 'FROM "tickets_ticket"' in q["sql"]]
    assert ticket_selects and not any("DISTINCT" in sql for sql in ticket_selects)


def test_queue_page_query_joins_only_the_service_and_the_people(client, company):
    """PostgreSQL planned the six-table join of the ticket list in ~3 ms at a million tickets,
    five times its run time: the page joins the service, requester and assignee only and
    reads the requester's department name by a scalar subquery."""
    ticket = file(company, title="联网")
    client.force_login(company.agent)
    with CaptureQueriesContext(connection) as queries:
        text = page(client)
    assert ticket.reference in text and "人力资源部" in text
    ticket_selects = [q["sql"] for q in queries if 'FROM "tickets_ticket"' in q["sql"]]
    assert len(ticket_selects) == 1
    assert ticket_selects[0].count(" JOIN ") == 3, ticket_selects[0]


def ticket_ids(text: str) -> list[int]:
    """The page's rows, in order, by their checkbox's ticket id."""
    return [int(part.split('"')[0]) for part in text.split('name="ticket" value="')[1:]]


PRIORITY_ORDER = ("urgent", "high", "normal", "low")
EXPECTED_ORDER = {
    # The sorts of the filter form: due times soonest first and empty ones last, newest first,
    # most urgent first; the id breaks ties (ascending, descending for the newest first).
    "resolution_due": lambda t: (t.resolution_due_at is None, t.resolution_due_at or 0, t.pk),
    "response_due": lambda t: (t.response_due_at is None, t.response_due_at or 0, t.pk),
    "created": lambda t: (-t.created_at.timestamp(), -t.pk),
    "priority": lambda t: (PRIORITY_ORDER.index(t.priority), t.pk),
}


@pytest.mark.parametrize("sort", list(EXPECTED_ORDER))
def test_every_later_page_follows_on_from_the_one_before(
    client, company, it_policy, at_monday, monkeypatch, sort
):
    """The query of a later page is compiled once and run again with the next cursor: every
    page must carry on where the last one stopped, through ties and empty due times."""
    monkeypatch.setattr(queue_views, "PAGE_SIZE", 2)
    filed = []
    for priority in ("low", "urgent", "normal", "urgent", "high", "normal", "low", "high"):
        filed.append(file(company, priority=priority))  # the urgent pair: equal due times
        at_monday.shift(timedelta(minutes=7))
    # Two without due times (no SLA when they were filed).
    Ticket.objects.filter(pk__in=[filed[2].pk, filed[5].pk]).update(
        response_due_at=None, resolution_due_at=None
    )
    expected = [t.pk for t in sorted(Ticket.objects.all(), key=EXPECTED_ORDER[sort])]
    client.force_login(company.agent)

    shown: list[int] = []
    text = page(client, f"?sort={sort}")
    for _ in range(len(filed)):
        rows = ticket_ids(text)
        assert 1 <= len(rows) <= 2
        shown += rows
        if 'rel="next"' not in text:
            break
        next_href = text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
        text = page(client, next_href.replace("&amp;", "&"))
    assert shown == expected


def test_a_cursor_with_non_ascii_digits_is_reported_not_a_server_error(client, company):
    ticket = file(company)
    client.force_login(company.agent)
    text = page(client, "?after=x~%C2%B2")  # "²": a digit to str.isdigit, not to int()
    assert "The page link is not valid; showing the first page." in text
    assert ticket.reference in text


def test_first_page_query_is_planned_once_with_the_open_statuses_partial_index(
    client, company, it_policy
):
    """The statuses and departments are written into the page's SQL, only the user's id is
    bound: a generic plan (what a prepared statement runs once planned) can then use the
    partial index of the department's open tickets. Bound, every page was planned again (~1 ms
    at a million tickets)."""
    file(company)
    client.force_login(company.agent)
    statements: list[tuple[str, object]] = []

    def record(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        page(client)
    [(sql, params)] = [(s, p) for s, p in statements if 'FROM "tickets_ticket"' in s]
    assert list(params) == [company.agent.pk]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        generic = sql.replace("%s", "$1").replace("%%", "%")
        cursor.execute(f"PREPARE queue_page(bigint) AS {generic}")
        cursor.execute(f"EXPLAIN EXECUTE queue_page({company.agent.pk})")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE queue_page")
    assert "ticket_queue_due_idx" in plan, plan


def test_assigned_to_me_reads_the_agents_open_tickets_in_due_order_from_their_index(
    client, company, it_policy
):
    """The "assigned to me" page by due time reads the agent's open tickets from their own index, in
    order, until a page is full: through the department's index PostgreSQL read every open
    ticket of the department and sorted the agent's (17 ms at a million tickets; migration
    tickets 0013)."""
    first = file(company)
    Ticket.objects.bulk_create(  # a department of many open tickets, few of them the agent's
        Ticket(
            reference=f"IT-2026-9{number:05}",
            title="打印机",
            service=company.service,
            provider_department=company.it,
            requester=company.requester,
            requester_department=first.requester_department,
            assignee=company.agent if number % 50 == 0 else None,
            status="assigned" if number % 50 == 0 else "new",
            resolution_due_at=first.resolution_due_at,
            created_at=first.created_at,
        )
        for number in range(2000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_ticket")
    client.force_login(company.agent)
    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        text = page(client, "?assignee=me")
    assert text.count('href="/tickets/IT-2026-9') == 40  # 2,000 / 50, all on the first page
    [sql] = [s for s in statements if 'FROM "tickets_ticket"' in s]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql.replace('%%', '%')}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "ticket_assignee_due_idx" in plan, plan
    assert "Sort" not in plan, plan


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_due_times_read_as_the_date_filter_writes_them(language):
    """The pages' times (tickets.dates) fill in each day's words once and each time of day once:
    they must read as `{{ due|date:"SHORT_DATETIME_FORMAT" }}`, midnight, noon and the minutes
    included."""
    times = [
        datetime(2026, 11, 23, 0, 0, tzinfo=SH),
        datetime(2026, 11, 23, 0, 5, 59, tzinfo=SH),
        datetime(2026, 11, 23, 9, 30, tzinfo=SH),
        datetime(2026, 11, 23, 12, 0, tzinfo=SH),
        datetime(2026, 11, 23, 12, 45, tzinfo=SH),
        datetime(2026, 11, 24, 12, 45, 30, tzinfo=SH),  # the same time of day, the next day
        datetime(2026, 12, 31, 23, 59, tzinfo=SH),
        datetime(2027, 1, 1, 9, 30, tzinfo=SH),
    ]
    with translation.override(language), timezone.override(SH):
        for value in times + times:  # the second time round from what the process has kept
            assert ShortDatetimes.current().text(value) == date_filter(
                value, "SHORT_DATETIME_FORMAT"
            ), value
            in_utc = value.astimezone(UTC)  # as the database hands times over
            assert ShortDatetimes.current().text(in_utc) == date_filter(
                localtime(in_utc), "SHORT_DATETIME_FORMAT"
            ), value


def test_filters_show_an_agent_or_a_service_new_since_the_last_visit(client, company):
    """The filter form is rendered once for its data and choices and kept: a new agent or a
    new service of the department must still appear in it at the next visit."""

    def filters() -> str:
        return page(client).split('class="queue-filters')[1].split("</form>")[0]

    file(company)
    client.force_login(company.agent)
    assert "王新" not in filters()
    make_member(
        company.it, Membership.Role.AGENT, username="newagent", first_name="新", last_name="王"
    )
    assert '<option value="unassigned">Unassigned</option>' in filters()
    assert "王新" in filters()
    assert "新服务" not in filters()
    ServiceFactory(department=company.it, name="新服务")
    assert "新服务" in filters()
