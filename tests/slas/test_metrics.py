"""SLA metrics (DESIGN §2 "Metrics", §3 `metrics/sla/`) against a fixture counted by hand.

The fixture: IT provides one service; HR and FIN consume it; agents `agent` and `agent2`. Times
are Asia/Shanghai. Response targets: urgent 30, high 60, normal 120, low 240 minutes after
filing; resolution targets: urgent 240, high 480, normal/low 600. Business time equals wall time
here (the stored `*_business_seconds` are what the metrics read). The period is March 2026.

  ref created     cons agent  prio   status      response (min)          resolution (min)
  T1  03-01 07:30 HR   agent  urgent closed      12, met                 120, met
  T2  03-02 06:00 HR   agent  high   resolved    30, met                 200, met
  T3  03-03 10:00 HR   agent2 normal closed      45, met                 900, breached
  T4  03-05 10:00 FIN  agent2 normal resolved    240, breached           300, met
  T5  03-10 10:00 FIN  agent  low    in_progress 60, met                 open: not measured
  T6  03-12 10:00 HR   agent  high   waiting     600, breached           breached while open
  T7  03-20 10:00 HR   -      normal new         none yet, not flagged   not measured
  T8  03-24 10:00 FIN  -      urgent new         none, breached          not measured
  T9  03-16 10:00 HR   agent2 normal in_progress 90, met; reopened       not measured (reopened)
  T10 03-18 10:00 FIN  agent  normal closed      no SLA: no due times, no business time
  T11 03-31 23:59 HR   agent  low    cancelled   none, not flagged       not measured
  T12 02-28 23:30 HR   agent  high   assigned    5, met  (outside the period; open)
  T13 03-09 10:00 HR   -      normal new         FIN's service: another provider
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.translation import gettext
from openapi_spec_validator import validate

from departments.models import User
from slas import metrics
from slas.metrics_api import SlaMetricsSerializer
from tests.factories import ServiceFactory, UserFactory
from tickets.models import Service, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

URL = "/api/v1/metrics/sla/"
SH = ZoneInfo("Asia/Shanghai")
MARCH = {"from": "2026-03-01", "to": "2026-04-01"}

RESPONSE_TARGET = {"urgent": 30, "high": 60, "normal": 120, "low": 240}
RESOLUTION_TARGET = {"urgent": 240, "high": 480, "normal": 600, "low": 600}


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def block(measured, met, breached, compliance, median, p90) -> dict:
    return {
        "measured": measured,
        "met": met,
        "breached": breached,
        "compliance_percent": compliance,
        "median_minutes": median,
        "p90_minutes": p90,
    }


@dataclass
class Fixture:
    tickets: dict[str, Ticket]
    service: Service


_sequence = iter(range(1, 1_000_000))


def make_ticket(
    company,
    *,
    created: datetime,
    consumer,
    priority: str,
    status: str,
    agent: User | None = None,
    responded_after: int | None = None,
    response_breached: bool = False,
    resolved_after: int | None = None,
    resolution_breached: bool = False,
    sla: bool = True,
    service: Service | None = None,
) -> Ticket:
    """A ticket written straight to the table; minutes after filing stand for business time."""
    service = service or company.service
    requester = company.requester if consumer == company.hr else company.finance_agent
    return Ticket.objects.create(
        reference=f"{service.department.code}-2026-{next(_sequence):06d}",
        title="显示器坏了",
        service=service,
        provider_department=service.department,
        requester=requester,
        requester_department=consumer,
        assignee=agent,
        priority=priority,
        status=status,
        created_at=created,
        first_response_at=(
            created + timedelta(minutes=responded_after) if responded_after is not None else None
        ),
        resolved_at=(
            created + timedelta(minutes=resolved_after) if resolved_after is not None else None
        ),
        response_due_at=created + timedelta(minutes=RESPONSE_TARGET[priority]) if sla else None,
        resolution_due_at=created + timedelta(minutes=RESOLUTION_TARGET[priority]) if sla else None,
        response_breached=response_breached,
        resolution_breached=resolution_breached,
        response_business_seconds=responded_after * 60 if sla and responded_after else None,
        resolution_business_seconds=resolved_after * 60 if sla and resolved_after else None,
    )


@pytest.fixture
def fixture(company) -> Fixture:
    c, hr, fin = company, company.hr, company.finance
    t = {
        "T1": make_ticket(c, created=sh(2026, 3, 1, 7, 30), consumer=hr, agent=c.agent,
                          priority="urgent", status="closed", responded_after=12,
                          resolved_after=120),
        "T2": make_ticket(c, created=sh(2026, 3, 2, 6, 0), consumer=hr, agent=c.agent,
                          priority="high", status="resolved", responded_after=30,
                          resolved_after=200),
        "T3": make_ticket(c, created=sh(2026, 3, 3, 10), consumer=hr, agent=c.agent2,
                          priority="normal", status="closed", responded_after=45,
                          resolved_after=900, resolution_breached=True),
        "T4": make_ticket(c, created=sh(2026, 3, 5, 10), consumer=fin, agent=c.agent2,
                          priority="normal", status="resolved", responded_after=240,
                          response_breached=True, resolved_after=300),
        "T5": make_ticket(c, created=sh(2026, 3, 10, 10), consumer=fin, agent=c.agent,
                          priority="low", status="in_progress", responded_after=60),
        "T6": make_ticket(c, created=sh(2026, 3, 12, 10), consumer=hr, agent=c.agent,
                          priority="high", status="waiting", responded_after=600,
                          response_breached=True, resolution_breached=True),
        "T7": make_ticket(c, created=sh(2026, 3, 20, 10), consumer=hr,
                          priority="normal", status="new"),
        "T8": make_ticket(c, created=sh(2026, 3, 24, 10), consumer=fin,
                          priority="urgent", status="new", response_breached=True),
        "T9": make_ticket(c, created=sh(2026, 3, 16, 10), consumer=hr, agent=c.agent2,
                          priority="normal", status="in_progress", responded_after=90),
        "T10": make_ticket(c, created=sh(2026, 3, 18, 10), consumer=fin, agent=c.agent,
                           priority="normal", status="closed", responded_after=20,
                           resolved_after=100, sla=False),
        "T11": make_ticket(c, created=sh(2026, 3, 31, 23, 59, 59), consumer=hr, agent=c.agent,
                           priority="low", status="cancelled"),
        "T12": make_ticket(c, created=sh(2026, 2, 28, 23, 30), consumer=hr, agent=c.agent,
                           priority="high", status="assigned", responded_after=5),
    }  # fmt: skip
    finance_service = ServiceFactory(department=c.finance, name="报销")
    t["T13"] = make_ticket(
        c,
        created=sh(2026, 3, 9, 10),
        consumer=hr,
        priority="normal",
        status="new",
        service=finance_service,
    )
    # T9 was resolved once and reopened: it is in progress again, with no resolved_at.
    TicketEvent.objects.create(ticket=t["T9"], kind="resolved", at=sh(2026, 3, 16, 12))
    TicketEvent.objects.create(ticket=t["T9"], kind="reopened", at=sh(2026, 3, 17, 9))
    return Fixture(t, company.service)


def admin() -> User:
    return UserFactory(username="admin", is_staff=True)


def get(api, user, **params):
    return api(user).get(URL, params)


# Hand count for IT, March 2026 (T1–T11; T12 is February, T13 is FIN's):
#
# response measured (due time and a first response or a breach): T1 T2 T3 T4 T5 T6 T8 T9 = 8
#   met (first response <= due): T1 T2 T3 T5 T9 = 5; breached: T4 T6 T8 = 3 → 5/8 = 62.5 %
#   (T7 no response and not flagged, T10 no SLA, T11 cancelled before any response: unmeasured)
#   times: [12, 30, 45, 60, 90, 240, 600] (T1 T2 T3 T5 T9 T4 T6; T8 has none, T10 no SLA)
#   median: rank 0.5 x 6 = 3 → 60; p90: rank 0.9 x 6 = 5.4 → 240 + 0.4 x (600 − 240) = 384
# resolution measured (due time and resolved or breached): T1 T2 T3 T4 T6 = 5
#   met: T1 T2 T4 = 3; breached: T3 T6 = 2 → 3/5 = 60 %
#   times: [120, 200, 300, 900]; median: rank 1.5 → (200 + 300) / 2 = 250;
#   p90: rank 0.9 x 3 = 2.7 → 300 + 0.7 x (900 − 300) = 720
# reopen rate: reopened T9 = 1 / resolved at least once T1 T2 T3 T4 T10 + T9 = 6 → 16.67 %
# backlog now (IT, open, any period): T5 in_progress, T6 waiting, T7 new, T8 new,
#   T9 in_progress, T12 assigned → new 2, assigned 1, in_progress 2, waiting 1;
#   priorities: T8 urgent; T6 T12 high; T7 T9 normal; T5 low → 1, 2, 2, 1
IT_MARCH = {
    "tickets": 11,
    "response": block(8, 5, 3, 62.5, 60.0, 384.0),
    "resolution": block(5, 3, 2, 60.0, 250.0, 720.0),
    "backlog": {
        "by_status": {"new": 2, "assigned": 1, "in_progress": 2, "waiting": 1},
        "by_priority": {"urgent": 1, "high": 2, "normal": 2, "low": 1},
    },
    "reopen_rate_percent": 16.67,
}

# group_by=consumer_department (IT, March):
# HR: T1 T2 T3 T6 T7 T9 T11 = 7 tickets
#   response measured T1 T2 T3 T6 T9 = 5, met T1 T2 T3 T9 = 4, breached T6 → 80 %
#     times [12, 30, 45, 90, 600]: median 45; p90 rank 3.6 → 90 + 0.6 x 510 = 396
#   resolution measured T1 T2 T3 T6 = 4, met T1 T2 = 2, breached T3 T6 = 2 → 50 %
#     times [120, 200, 900]: median 200; p90 rank 1.8 → 200 + 0.8 x 700 = 760
# FIN: T4 T5 T8 T10 = 4 tickets
#   response measured T4 T5 T8 = 3, met T5 = 1, breached T4 T8 = 2 → 33.33 %
#     times [60, 240]: median 150; p90 rank 0.9 → 60 + 0.9 x 180 = 222
#   resolution measured T4 = 1, met 1, breached 0 → 100 %; times [300]: 300, 300
BY_CONSUMER = [
    ("HR", 7, block(5, 4, 1, 80.0, 45.0, 396.0), block(4, 2, 2, 50.0, 200.0, 760.0)),
    ("FIN", 4, block(3, 1, 2, 33.33, 150.0, 222.0), block(1, 1, 0, 100.0, 300.0, 300.0)),
]

# group_by=agent (IT, March):
# agent: T1 T2 T5 T6 T10 T11 = 6 tickets
#   response measured T1 T2 T5 T6 = 4, met T1 T2 T5 = 3, breached T6 → 75 %
#     times [12, 30, 60, 600]: median (30 + 60) / 2 = 45; p90 rank 2.7 → 60 + 0.7 x 540 = 438
#   resolution measured T1 T2 T6 = 3, met T1 T2 = 2, breached T6 → 66.67 %
#     times [120, 200]: median 160; p90 rank 0.9 → 120 + 0.9 x 80 = 192
# agent2: T3 T4 T9 = 3 tickets
#   response measured T3 T4 T9 = 3, met T3 T9 = 2, breached T4 → 66.67 %
#     times [45, 90, 240]: median 90; p90 rank 1.8 → 90 + 0.8 x 150 = 210
#   resolution measured T3 T4 = 2, met T4 = 1, breached T3 → 50 %
#     times [300, 900]: median 600; p90 rank 0.9 → 300 + 0.9 x 600 = 840
# unassigned: T7 T8 = 2 tickets
#   response measured T8 = 1, met 0, breached 1 → 0 %; no times
#   resolution: nothing measured
BY_AGENT = [
    ("agent", 6, block(4, 3, 1, 75.0, 45.0, 438.0), block(3, 2, 1, 66.67, 160.0, 192.0)),
    ("agent2", 3, block(3, 2, 1, 66.67, 90.0, 210.0), block(2, 1, 1, 50.0, 600.0, 840.0)),
    (None, 2, block(1, 0, 1, 0.0, None, None), block(0, 0, 0, None, None, None)),
]


def figures(body: dict) -> dict:
    return {key: body[key] for key in IT_MARCH}


def test_figures_for_the_provider_match_the_hand_count(api, company, fixture):
    response = get(api, company.it_head, provider_department=company.it.pk, **MARCH)

    assert response.status_code == 200, response.content
    body = response.json()
    assert figures(body) == IT_MARCH
    assert body["groups"] == []
    assert body["period"] == {
        "from": "2026-03-01T00:00:00+08:00",
        "to": "2026-04-01T00:00:00+08:00",
    }
    assert body["filters"] == {
        "provider_department": company.it.pk,
        "consumer_department": None,
        "service": None,
        "agent": None,
        "group_by": None,
    }


@pytest.mark.parametrize("in_sql_percentiles", [True, False], ids=["percentile_cont", "exact"])
def test_both_percentile_methods_give_the_hand_counted_figures(
    company, fixture, in_sql_percentiles
):
    # The exact method is what SQLite (embedded mode) uses; it is plain SQL, so it runs here too.
    if in_sql_percentiles and not metrics.percentiles_in_sql(Ticket.objects.all()):
        pytest.skip("percentile_cont is PostgreSQL's")
    report = metrics.sla_metrics(
        scope=metrics.MetricsScope(provider_department_id=company.it.pk),
        period_from=sh(2026, 3, 1),
        period_to=sh(2026, 4, 1),
        group_by="agent",
        in_sql_percentiles=in_sql_percentiles,
    )
    body = SlaMetricsSerializer(report).data

    assert figures(body) == IT_MARCH
    agents = {company.agent.pk: "agent", company.agent2.pk: "agent2", None: None}
    assert [
        (agents[g["key"]], g["tickets"], dict(g["response"]), dict(g["resolution"]))
        for g in body["groups"]
    ] == BY_AGENT


def test_groups_by_consumer_department(api, company, fixture):
    response = get(
        api,
        company.it_head,
        provider_department=company.it.pk,
        group_by="consumer_department",
        **MARCH,
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert figures(body) == IT_MARCH  # grouping does not change the totals
    codes = {company.hr.pk: "HR", company.finance.pk: "FIN"}
    assert sorted(
        (codes[g["key"]], g["tickets"], g["response"], g["resolution"]) for g in body["groups"]
    ) == sorted(BY_CONSUMER)
    assert {g["label"] for g in body["groups"]} == {"人力资源部", "财务部"}


def test_groups_by_agent_name_the_agent_and_keep_the_unassigned(api, company, fixture):
    response = get(
        api, company.it_head, provider_department=company.it.pk, group_by="agent", **MARCH
    )

    assert response.status_code == 200, response.content
    groups = response.json()["groups"]
    agents = {company.agent.pk: "agent", company.agent2.pk: "agent2", None: None}
    assert sorted(
        ((agents[g["key"]] or ""), g["tickets"], g["response"], g["resolution"]) for g in groups
    ) == sorted(((name or ""), *rest) for name, *rest in BY_AGENT)
    labels = {g["key"]: g["label"] for g in groups}
    assert labels[company.agent.pk] == str(company.agent)
    assert labels[None] == gettext("unassigned")
    assert groups[-1]["key"] is None  # the unassigned group comes last


def test_months_and_weeks_are_cut_in_shanghai_time(api, company, fixture):
    # T1 (01 Mar 07:30 +08 = 28 Feb 23:30 UTC) is March; T12 (28 Feb 23:30 +08) is February.
    # February: T12 only, response 5 min, met. March: T1–T11 as counted above.
    months = get(
        api,
        company.it_head,
        provider_department=company.it.pk,
        group_by="month",
        **{"from": "2026-02-01", "to": "2026-04-01"},
    ).json()["groups"]
    assert [(g["key"], g["tickets"]) for g in months] == [("2026-02", 1), ("2026-03", 11)]
    assert months[0]["response"] == block(1, 1, 0, 100.0, 5.0, 5.0)
    assert months[1]["response"] == IT_MARCH["response"]

    # ISO weeks, Monday to Sunday, Shanghai: W09 (23 Feb–1 Mar) T1; W10 T2 (Mon 2 Mar 06:00
    # +08, still Sunday in UTC) T3 T4; W11 T5 T6; W12 T9 T10 T7; W13 T8; W14 T11.
    weeks = get(
        api, company.it_head, provider_department=company.it.pk, group_by="week", **MARCH
    ).json()["groups"]
    assert [(g["key"], g["label"], g["tickets"]) for g in weeks] == [
        ("2026-W09", "2026-02-23", 1),
        ("2026-W10", "2026-03-02", 3),
        ("2026-W11", "2026-03-09", 2),
        ("2026-W12", "2026-03-16", 3),
        ("2026-W13", "2026-03-23", 1),
        ("2026-W14", "2026-03-30", 1),
    ]


def test_groups_by_priority_in_priority_order(api, company, fixture):
    # March, IT: urgent T1 T8; high T2 T6; normal T3 T4 T7 T9 T10; low T5 T11.
    groups = get(
        api, company.it_head, provider_department=company.it.pk, group_by="priority", **MARCH
    ).json()["groups"]
    assert [(g["key"], g["tickets"]) for g in groups] == [
        ("urgent", 2),
        ("high", 2),
        ("normal", 5),
        ("low", 2),
    ]


def test_filters_by_consumer_service_and_agent(api, company, fixture):
    # HR as consumer of anyone (its head): T1 T2 T3 T6 T7 T9 T11 from IT + T13 from FIN = 8.
    hr = get(api, company.hr_head, consumer_department=company.hr.pk, **MARCH).json()
    assert hr["tickets"] == 8
    # Backlog of HR's requests now: T6 waiting, T7 new, T9 in progress, T12 assigned, T13 new.
    assert hr["backlog"]["by_status"] == {"new": 2, "assigned": 1, "in_progress": 1, "waiting": 1}

    # agent2 at IT: T3 T4 T9, figures as in the agent breakdown.
    agent2 = get(
        api, company.it_head, provider_department=company.it.pk, agent=company.agent2.pk, **MARCH
    ).json()
    assert (agent2["tickets"], agent2["response"], agent2["resolution"]) == BY_AGENT[1][1:]

    # The FIN service at IT's scope: none.
    other_service = get(
        api,
        company.it_head,
        provider_department=company.it.pk,
        service=fixture.tickets["T13"].service_id,
        **MARCH,
    ).json()
    assert other_service["tickets"] == 0
    assert other_service["response"] == block(0, 0, 0, None, None, None)
    assert other_service["reopen_rate_percent"] is None


def test_period_includes_from_and_excludes_to(api, company, fixture):
    # From T1's filing instant to T11's: T1 counts, T11 does not (10 tickets).
    body = get(
        api,
        company.it_head,
        provider_department=company.it.pk,
        **{"from": "2026-03-01T07:30:00+08:00", "to": "2026-03-31T23:59:59+08:00"},
    ).json()
    assert body["tickets"] == 10


def test_default_period_is_the_last_30_days(api, company):
    now = timezone.now()
    for days_ago in (1, 29, 31):
        make_ticket(
            company,
            created=now - timedelta(days=days_ago),
            consumer=company.hr,
            priority="normal",
            status="new",
        )
    body = get(api, company.it_head, provider_department=company.it.pk).json()
    assert body["tickets"] == 2
    start = datetime.fromisoformat(body["period"]["from"])
    end = datetime.fromisoformat(body["period"]["to"])
    assert end - start == timedelta(days=30)
    assert abs(end - now) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("who", "params", "expected"),
    [
        ("admin", {}, 200),
        ("admin", {"provider_department": "it"}, 200),
        ("it_head", {"provider_department": "it"}, 200),
        ("agent", {"provider_department": "it"}, 200),
        ("agent", {"provider_department": "it", "consumer_department": "hr"}, 200),
        ("hr_head", {"consumer_department": "hr"}, 200),
        ("hr_head", {"consumer_department": "hr", "provider_department": "it"}, 200),
        ("hr_head", {"provider_department": "it"}, 403),
        ("agent", {"consumer_department": "hr"}, 403),  # agents do not read as consumer
        ("it_head", {"provider_department": "hr"}, 403),
        ("requester", {"consumer_department": "hr"}, 403),
        ("requester", {}, 403),
        ("finance_agent", {"provider_department": "it"}, 403),
        ("finance_agent", {"provider_department": "finance"}, 200),
    ],
)
def test_who_may_read_which_metrics(api, company, who, params, expected):
    user = admin() if who == "admin" else getattr(company, who)
    query = {key: getattr(company, value).pk for key, value in params.items()}

    response = get(api, user, **query, **MARCH)

    assert response.status_code == expected, response.content
    if expected == 403:
        assert response.json()["code"] == "permission_denied"


def test_signed_out_callers_get_401(api, company):
    assert get(api, None, provider_department=company.it.pk).status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "provider_department"),  # a head must say which department
        ({"provider_department": "x"}, "provider_department"),
        ({"provider_department": "IT", "from": "2026-13-01"}, "from"),
        ({"provider_department": "IT", "to": "yesterday"}, "to"),
        ({"provider_department": "IT", "from": "2026-04-01", "to": "2026-03-01"}, "to"),
        ({"provider_department": "IT", "from": "2026-03-01", "to": "2026-03-01"}, "to"),
        ({"provider_department": "IT", "from": "2023-03-01", "to": "2026-03-02"}, "from"),
        ({"provider_department": "IT", "group_by": "requester"}, "group_by"),
        ({"provider_department": "IT", "agent": "-1"}, "agent"),
    ],
)
def test_bad_parameters_get_400_naming_the_field(api, company, params, field):
    query = {k: (company.it.pk if v == "IT" else v) for k, v in params.items()}

    response = get(api, company.it_head, **query)

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == [field]


def test_a_period_of_exactly_three_years_is_allowed(api, company):
    response = get(
        api,
        company.it_head,
        provider_department=company.it.pk,
        **{"from": "2023-03-01", "to": "2026-03-01"},
    )
    assert response.status_code == 200, response.content


def _more_tickets(company, count: int) -> None:
    for n in range(count):
        make_ticket(
            company,
            created=sh(2026, 3, 2 + n % 27, 10),
            consumer=(company.hr, company.finance)[n % 2],
            agent=(company.agent, company.agent2, None)[n % 3],
            priority=("urgent", "high", "normal", "low")[n % 4],
            status=("new", "in_progress", "resolved", "closed")[n % 4],
            responded_after=(None, 20, 90, 300)[n % 4],
            response_breached=n % 4 == 3,
            resolved_after=(None, None, 200, 700)[n % 4],
            resolution_breached=n % 4 == 3,
        )


# Per request: the caller's roles (1), the totals (1), the backlog (1), the groups (1). SQLite
# (embedded mode, no percentile_cont) adds 4 for the totals' percentiles and 2 for the groups'.
# Whole-department scopes the daily figures could serve (no grouping, by week or month) first
# ask whether they are built (1): here they are not (tests/slas/test_figures.py counts the rest).
ON_POSTGRESQL = connection.vendor == "postgresql"
METRICS_QUERIES = (3 if ON_POSTGRESQL else 7) + 1
METRICS_GROUPED_QUERIES = 4 if ON_POSTGRESQL else 10
FIGURES_GROUPINGS = {"week", "month"}


def test_query_count_does_not_grow_with_the_tickets(api, company, fixture):
    def count(group_by: str | None) -> int:
        user = User.objects.get(pk=company.it_head.pk)  # roles not cached yet
        params = {"provider_department": company.it.pk, **MARCH}
        if group_by:
            params["group_by"] = group_by
        with CaptureQueriesContext(connection) as queries:
            assert get(api, user, **params).status_code == 200
        return len(queries)

    group_bys = [None, *metrics.GROUP_BY_CHOICES]
    small = {g: count(g) for g in group_bys}
    _more_tickets(company, 48)  # 12 → 60
    large = {g: count(g) for g in group_bys}

    assert small == large
    assert small[None] == METRICS_QUERIES
    assert {small[g] for g in metrics.GROUP_BY_CHOICES if g not in FIGURES_GROUPINGS} == {
        METRICS_GROUPED_QUERIES
    }
    assert {small[g] for g in FIGURES_GROUPINGS} == {METRICS_GROUPED_QUERIES + 1}


def test_the_endpoint_is_in_the_openapi_schema_with_its_errors(api):
    response = api(UserFactory()).get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    validate(schema)

    operation = schema["paths"][URL]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {
        "provider_department",
        "consumer_department",
        "service",
        "agent",
        "from",
        "to",
        "group_by",
    }
    assert {"200", "400", "401", "403"} <= set(operation["responses"])
    body = schema["components"]["schemas"]["SlaMetrics"]
    assert set(body["properties"]) == {
        "period",
        "filters",
        "tickets",
        "response",
        "resolution",
        "backlog",
        "reopen_rate_percent",
        "groups",
    }
