"""The heads' SLA dashboard and internal service map (DESIGN §3 "Pages"), on a set counted by hand.

Tickets created in the last 30 days (targets written on each ticket, minutes stand for business
time):

  ref consumer→provider agent  prio   status      response           resolution
  A   HR → IT          agent  high   closed      10 of 60, met      120 of 480, met (2 h)
  B   HR → IT          agent  normal resolved    30 of 60, met      600 of 480, breached (10 h)
  C   FIN → IT         agent2 normal in_progress 200 of 60, breached open
  D   HR → IT          -      urgent new         none yet           open
  E   HR → IT          agent  low    waiting     20 of 480, met     open
  F   HR → FIN         -      normal resolved    15 of 60, met      60 of 480, met (1 h)

IT as provider: response 3 met / 1 breached of 4 (75 %); resolution 1 met / 1 breached of 2
(50 %); backlog new 1, in progress 1, waiting 1 / urgent 1, normal 1, low 1; workload agent 1,
agent2 1, unassigned 1; time to resolve: 1–4 h 1 (A), 1–2 d 1 (B: 10 h, one day = 8 h).
HR as consumer: A, B, D, E, F: response 4 of 4 (100 %), resolution 2 met of 3 (66.67 %).
Map edges: HR → IT 4 tickets, 50 %; FIN → IT 1, nothing measured; HR → FIN 1, 100 %.
"""

import re
from datetime import timedelta
from itertools import count

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from slas import charts
from slas.models import Agreement, BusinessCalendar, SlaPolicy
from tests.factories import ServiceFactory, UserFactory
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

_sequence = count(1)


def make_ticket(
    *,
    service,
    requester,
    consumer,
    priority="normal",
    status="new",
    agent=None,
    days_ago=3,
    response_target=60,
    resolution_target=480,
    responded_after=None,
    resolved_after=None,
    title="显示器坏了",
) -> Ticket:
    created = timezone.now() - timedelta(days=days_ago)
    return Ticket.objects.create(
        reference=f"{service.department.code}-2026-{next(_sequence):06d}",
        title=title,
        service=service,
        provider_department=service.department,
        requester=requester,
        requester_department=consumer,
        assignee=agent,
        priority=priority,
        status=status,
        created_at=created,
        first_response_at=(
            created + timedelta(minutes=responded_after) if responded_after else None
        ),
        resolved_at=created + timedelta(minutes=resolved_after) if resolved_after else None,
        response_due_at=created + timedelta(minutes=response_target),
        resolution_due_at=created + timedelta(minutes=resolution_target),
        response_breached=bool(responded_after and responded_after > response_target),
        resolution_breached=bool(resolved_after and resolved_after > resolution_target),
        response_business_seconds=responded_after * 60 if responded_after else None,
        resolution_business_seconds=resolved_after * 60 if resolved_after else None,
    )


@pytest.fixture
def tickets(company) -> dict[str, Ticket]:
    c = company
    fin_service = ServiceFactory(department=c.finance, name="报销咨询")
    it = {"service": c.service}
    return {
        "A": make_ticket(**it, requester=c.requester, consumer=c.hr, agent=c.agent,
                         priority="high", status="closed", responded_after=10,
                         resolved_after=120, title="工单A"),
        "B": make_ticket(**it, requester=c.requester, consumer=c.hr, agent=c.agent,
                         status="resolved", responded_after=30, resolved_after=600,
                         title="工单B"),
        "C": make_ticket(**it, requester=c.finance_agent, consumer=c.finance, agent=c.agent2,
                         status="in_progress", responded_after=200, title="工单C"),
        "D": make_ticket(**it, requester=c.requester, consumer=c.hr, priority="urgent",
                         title="工单D"),
        "E": make_ticket(**it, requester=c.requester, consumer=c.hr, agent=c.agent,
                         priority="low", status="waiting", response_target=480,
                         responded_after=20, title="工单E"),
        "F": make_ticket(service=fin_service, requester=c.requester, consumer=c.hr,
                         status="resolved", responded_after=15, resolved_after=60,
                         title="工单F"),
    }  # fmt: skip


def client_for(user, language="en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def section(html: str, heading: str) -> str:
    """The dashboard section under an <h2> heading."""
    start = html.index(f">{heading}</h2>")
    end = html.find("</section>", start)
    return html[start:end]


def bars(svg_html: str) -> dict[str, str]:
    return dict(re.findall(r'data-label="([^"]*)" data-value="([^"]*)"', svg_html))


def test_head_of_it_sees_hand_counted_figures(company, tickets):
    r = client_for(company.it_head).get("/dashboard/")
    assert r.status_code == 200
    html = r.content.decode()
    provider = section(html, "As provider")
    assert "75 %" in provider
    assert "3 met, 1 breached of 4 measured" in provider
    assert "50 %" in provider
    assert "1 met, 1 breached of 2 measured" in provider
    # Breach list: B (resolution) and C (response); not A, D, E.
    assert tickets["B"].reference in provider and tickets["C"].reference in provider
    assert tickets["A"].reference not in provider
    # SVG bars: backlog by status and priority, the time-to-resolve histogram, workload.
    svgs = re.findall(r"<svg.*?</svg>", provider, flags=re.S)
    assert len(svgs) == 5  # trend, status, priority, histogram, workload
    assert all("<title" in svg and "<desc" in svg for svg in svgs)
    status_bars, priority_bars, histogram, workload = (bars(svg) for svg in svgs[1:])
    assert status_bars == {"new": "1", "assigned": "0", "in progress": "1",
                           "waiting on requester": "1"}  # fmt: skip
    assert priority_bars == {"urgent": "1", "high": "0", "normal": "1", "low": "1"}
    assert histogram == {"&lt; 1 h": "0", "1–4 h": "1", "4–8 h": "0", "1–2 d": "1",
                         "2–5 d": "0", "&gt; 5 d": "0"}  # fmt: skip
    assert sorted(workload.values()) == ["1", "1", "1"]
    assert set(workload) == {str(company.agent), str(company.agent2), "unassigned"}

    consumer = section(html, "As consumer")
    assert "0 tickets created in the period." in consumer  # IT filed nothing
    assert "0 ratings of the department" in section(html, "Satisfaction")  # none in this set


def test_head_of_hr_sees_how_others_serve_hr(company, tickets):
    html = client_for(company.hr_head).get("/dashboard/").content.decode()
    consumer = section(html, "As consumer")
    assert "5 tickets created in the period." in consumer
    assert "4 met, 0 breached of 4 measured" in consumer
    assert "66.67 %" in consumer
    assert "2 met, 1 breached of 3 measured" in consumer


@pytest.mark.parametrize("who", ["requester", "agent"])
def test_employees_and_agents_are_refused(company, tickets, who):
    client = client_for(getattr(company, who))
    assert client.get("/dashboard/").status_code == 403
    assert client.get("/map/").status_code == 403
    query = f"?consumer={company.hr.pk}&provider={company.it.pk}"
    assert client.get(f"/map/edge/{query}").status_code == 403


def test_head_may_not_pick_another_department(company, tickets):
    r = client_for(company.it_head).get(f"/dashboard/?department={company.finance.pk}")
    assert r.status_code == 403


def test_admin_picks_any_department(company, tickets):
    admin = UserFactory(username="admin", is_staff=True, department=company.it)
    r = client_for(admin).get(f"/dashboard/?department={company.finance.pk}&period=90d")
    assert r.status_code == 200
    html = r.content.decode()
    assert "SLA dashboard: 财务部" in html
    provider = section(html, "As provider")
    assert "1 ticket created in the period." in provider  # F
    assert "100 %" in provider
    consumer = section(html, "As consumer")
    assert "1 ticket created in the period." in consumer  # C


def test_period_365d_trends_by_month_and_old_tickets_fall_out_of_30d(company, tickets):
    make_ticket(service=company.service, requester=company.requester, consumer=company.hr,
                days_ago=100, status="closed", responded_after=5, resolved_after=30)  # fmt: skip
    client = client_for(company.it_head)
    assert "5 tickets created" in section(client.get("/dashboard/").content.decode(),
                                          "As provider")  # fmt: skip
    html = client.get("/dashboard/?period=365d").content.decode()
    provider = section(html, "As provider")
    assert "6 tickets created" in provider
    assert "per month" in provider
    r = client.get("/dashboard/?from=2000-01-01&to=2000-01-31")
    assert "0 tickets created" in section(r.content.decode(), "As provider")


def test_map_has_an_edge_per_relationship_with_its_count_and_colour(company, tickets):
    html = client_for(company.hr_head).get("/map/").content.decode()
    edges = {
        (int(consumer), int(provider)): (int(n), colour)
        for consumer, provider, n, colour in re.findall(
            r'<a href="[^"]*" class="edge" data-consumer="(\d+)" data-provider="(\d+)" '
            r'data-tickets="(\d+)"><title>[^<]*</title><line [^>]*stroke="(#[0-9a-f]+)"',
            html,
        )
    }
    c = company
    assert edges == {
        (c.hr.pk, c.it.pk): (4, charts.RED),  # 50 %
        (c.finance.pk, c.it.pk): (1, charts.GREY),  # nothing resolved yet
        (c.hr.pk, c.finance.pk): (1, charts.GREEN),  # 100 %
    }
    assert "人力资源部 → 信息技术部: 4 tickets, compliance 50 %" in html
    table = html[html.index('<table class="list edges"') :]
    assert table.count("<tr data-consumer=") == 3
    assert f"/map/edge/?consumer={c.hr.pk}&amp;provider={c.it.pk}&amp;period=30d" in table


def test_map_edge_lists_only_tickets_the_user_may_see(company, tickets):
    c = company
    policy = SlaPolicy.objects.create(
        name="财务标准", calendar=BusinessCalendar.objects.create(name="默认")
    )
    Agreement.objects.create(provider_department=c.finance, consumer_department=c.hr,
                             policy=policy, relation_type="process")  # fmt: skip
    url = f"/map/edge/?consumer={c.hr.pk}&provider={c.finance.pk}"
    # The head of IT sees the aggregated figures of HR → FIN, but not its tickets.
    html = client_for(c.it_head).get(url).content.decode()
    assert "1 met, 0 breached of 1 measured" in html
    assert tickets["F"].reference not in html
    assert "财务标准" in html and "process customer" in html
    # The head of HR sees HR's tickets as consumer.
    html = client_for(c.hr_head).get(url).content.decode()
    assert tickets["F"].reference in html
    # IT's head sees IT's own tickets on HR → IT.
    html = (
        client_for(c.it_head)
        .get(f"/map/edge/?consumer={c.hr.pk}&provider={c.it.pk}")
        .content.decode()
    )
    assert all(tickets[k].reference in html for k in "ABDE")
    assert tickets["C"].reference not in html  # FIN → IT


def test_pages_render_in_chinese_by_default_and_in_english(company, tickets):
    zh = client_for(company.it_head, language="zh-hans")
    html = zh.get("/dashboard/").content.decode()
    assert "作为提供方" in html and "作为消费方" in html and "As provider" not in html
    assert "服务地图" in zh.get("/map/").content.decode()
    en = client_for(company.it_head, language="en").get("/dashboard/").content.decode()
    assert "As provider" in en and "As consumer" in en


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_query_count_does_not_grow_with_tickets(company, tickets):
    client = client_for(company.it_head)
    edge = f"/map/edge/?consumer={company.hr.pk}&provider={company.it.pk}"
    urls = ["/dashboard/", "/map/", edge]
    few = [_queries(client, url) for url in urls]
    for n in range(45):
        make_ticket(
            service=company.service,
            requester=company.requester,
            consumer=company.hr,
            agent=company.agent if n % 2 else company.agent2,
            days_ago=n % 28,
            status="resolved",
            responded_after=5 + n,
            resolved_after=60 * n + 1,
        )
    many = [_queries(client, url) for url in urls]
    assert few == many, (few, many)
    # Measured 19, 6 and 10 (session, user, nav badges included); a little slack for the nav.
    # The dashboard's 19 include its ratings, kudos and SERVQUAL panels (3 queries, feedback app).
    assert many[0] <= 20 and many[1] <= 8 and many[2] <= 12
