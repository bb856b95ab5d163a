"""The ticket list and detail render plain rows (tickets.serializers.TicketRows) instead of model
objects through TicketSerializer (issue #6). Clients must not see the difference: the JSON is the
serializer's, byte for byte (field names and order, ids, times in the current time zone, nulls,
summaries, SLA warnings, business minutes left), whatever the language or time zone.
"""

from collections import OrderedDict
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone, translation
from rest_framework.renderers import JSONRenderer

from departments.models import Membership, User
from slas.calendars import import_china_years
from slas.policies import save_policy
from tests.factories import ServiceFactory, make_member
from tickets import selectors, services
from tickets.models import Priority, Status, Ticket, TicketEvent
from tickets.serializers import TicketRows, TicketSerializer

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
# Tuesday 30 December 2025, mid-morning in Shanghai: some clocks running, some overdue.
NOW = datetime(2025, 12, 30, 10, 30, tzinfo=SH)
TARGETS = {
    "urgent": {"response": 30, "resolution": 240},
    "high": {"response": 60, "resolution": 480},
    "normal": {"response": 60, "resolution": 480},
    "low": {"response": 480, "resolution": 2400},
}
ZONES = [None, "UTC", "America/New_York"]  # None: the site's zone (Asia/Shanghai)


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def at(when: datetime, action, **kwargs):
    with time_machine.travel(when, tick=False):
        return action(**kwargs)


@pytest.fixture
def varied(company) -> list[Ticket]:
    """Tickets in every state a list shows: new without assignee, overdue and flagged breached,
    assigned to people with Chinese, Western and no names, waiting (paused), resolved, closed,
    cancelled, a low-priority one whose due time runs into 2026 (a year the calendar does not
    know: a warning), and one of a provider without any SLA."""
    calendar, _years = import_china_years(years=[2025])
    policy = save_policy(
        name="IT 标准", calendar=calendar, targets=TARGETS, warning_percent=75, ladder=[]
    )
    company.it.default_sla_policy = policy
    company.it.save(update_fields=["default_sla_policy"])
    western = make_member(
        company.it, Membership.Role.AGENT, username="ada", first_name="Ada", last_name="Lovelace"
    )
    nameless = make_member(
        company.it, Membership.Role.AGENT, username="nameless", first_name="", last_name=""
    )

    def file(when: datetime, title: str, priority: str = Priority.NORMAL, **extra) -> Ticket:
        return at(
            when,
            services.file_ticket,
            requester=extra.pop("requester", company.requester),
            service=extra.pop("service", company.service),
            title=title,
            priority=priority,
            description=extra.pop("description", ""),
            form_data=extra.pop("form_data", {"model": "14寸"}),
        )

    def move(when: datetime, ticket: Ticket, status: str, **extra) -> Ticket:
        actor = extra.pop("actor", company.it_head)
        return at(
            when, services.transition_ticket, ticket=ticket, actor=actor, status=status, **extra
        )

    tickets = []
    overdue = file(sh(2025, 12, 29, 9, 0), "打印机卡纸", description='他说："急！"\n<b>&</b> 🎉')
    Ticket.objects.filter(pk=overdue.pk).update(response_breached=True)  # as the sweep flags it
    tickets.append(overdue)
    chinese = file(sh(2025, 12, 29, 14, 0), "邮箱满了", Priority.HIGH)
    chinese = move(sh(2025, 12, 29, 14, 5), chinese, Status.ASSIGNED, assignee=company.agent)
    chinese = move(sh(2025, 12, 29, 14, 10), chinese, Status.IN_PROGRESS, actor=company.agent)
    at(
        sh(2025, 12, 29, 15, 0),
        services.add_comment,
        ticket=chinese,
        author=company.agent2,
        body="内部：**先别告诉用户**",
        internal=True,
    )
    at(
        sh(2025, 12, 29, 15, 5),
        services.add_comment,
        ticket=chinese,
        author=company.requester,
        body="谢谢",
    )
    tickets.append(chinese)
    english = file(
        sh(2025, 12, 30, 9, 0), "VPN down", Priority.URGENT, form_data={"model": "16寸", "count": 2}
    )
    tickets.append(move(sh(2025, 12, 30, 9, 1), english, Status.ASSIGNED, assignee=western))
    waiting = file(sh(2025, 12, 29, 10, 0), "需要补充信息")
    waiting = move(sh(2025, 12, 29, 10, 5), waiting, Status.ASSIGNED, assignee=nameless)
    tickets.append(move(sh(2025, 12, 29, 11, 0), waiting, Status.WAITING, actor=nameless))
    resolved = file(sh(2025, 12, 26, 9, 0), "已解决")
    resolved = move(sh(2025, 12, 26, 9, 30), resolved, Status.ASSIGNED, assignee=company.agent)
    tickets.append(move(sh(2025, 12, 26, 10, 0), resolved, Status.RESOLVED, actor=company.agent))
    closed = file(sh(2025, 12, 22, 9, 0), "已关闭")
    closed = move(sh(2025, 12, 22, 9, 30), closed, Status.RESOLVED, actor=company.agent)
    tickets.append(move(sh(2025, 12, 23, 9, 0), closed, Status.CLOSED, actor=None, system=True))
    cancelled = file(sh(2025, 12, 24, 9, 0), "不用了")
    tickets.append(
        move(sh(2025, 12, 24, 9, 5), cancelled, Status.CANCELLED, actor=company.requester)
    )
    long_one = file(sh(2025, 12, 29, 16, 0), "跨年的请求", Priority.LOW)
    tickets.append(long_one)
    no_sla_service = ServiceFactory(department=company.finance, name="报销")
    tickets.append(file(sh(2025, 12, 29, 9, 30), "报销单", service=no_sla_service, form_data={}))
    fresh = list(Ticket.objects.filter(pk__in=[t.pk for t in tickets]))
    assert long_one.pk in {t.pk for t in fresh if t.sla_warnings}  # the 2026 warning is there
    assert {t.status for t in fresh} == set(Status.values)
    return fresh


def serializer_json(user: User, queryset_order: tuple[str, ...] = ("-created_at", "-id")) -> bytes:
    tickets = selectors.ticket_list(user).order_by(*queryset_order)
    return JSONRenderer().render(TicketSerializer(tickets, many=True).data)


def rows_json(user: User, queryset_order: tuple[str, ...] = ("-created_at", "-id")) -> bytes:
    rows = selectors.visible_ticket_rows(user).order_by(*queryset_order)
    return JSONRenderer().render(TicketRows().data(rows))


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_rows_render_the_serializers_json_byte_for_byte(company, varied, language, zone):
    with (
        time_machine.travel(NOW, tick=False),
        translation.override(language),
        timezone.override(zone or timezone.get_default_timezone()),
    ):
        for viewer in (company.agent, company.requester, company.hr_head, company.finance_agent):
            expected = serializer_json(viewer)
            assert rows_json(viewer) == expected
    # What was compared covers the cases it claims to (a vacuous comparison proves nothing).
    with time_machine.travel(NOW, tick=False):
        shown = TicketRows().data(selectors.visible_ticket_rows(company.agent))
    assert len(shown) == len(varied) - 1  # all but the finance ticket
    assert any(row["response_remaining_minutes"] is not None for row in shown)
    assert any(row["resolution_remaining_minutes"] is not None for row in shown)
    assert any(row["response_remaining_minutes"] is None for row in shown)
    assert {row["assignee_summary"]["name"] for row in shown if row["assignee_summary"]} >= {
        "Ada Lovelace",
        "nameless",
    }
    assert any(row["sla_warnings"] for row in shown)
    assert any(row["response_breached"] for row in shown)


def test_list_and_detail_answer_exactly_what_the_serializer_writes(company, varied, api):
    with time_machine.travel(NOW, tick=False):
        for viewer in (company.agent, company.requester, company.hr_head):
            client = api(viewer)
            response = client.get("/api/v1/tickets/")
            assert response.status_code == 200
            expected = OrderedDict(
                [
                    ("next", None),
                    ("previous", None),
                    (
                        "results",
                        TicketSerializer(
                            selectors.ticket_list(viewer).order_by("-created_at", "-id"), many=True
                        ).data,
                    ),
                ]
            )
            assert response.content == JSONRenderer().render(expected)
            for ticket in selectors.visible_tickets(viewer):
                response = client.get(f"/api/v1/tickets/{ticket.pk}/")
                reread = selectors.ticket_list(viewer).get(pk=ticket.pk)
                assert response.content == JSONRenderer().render(TicketSerializer(reread).data)


def test_detail_keeps_the_list_filters_and_a_malformed_id_is_a_404(company, varied, api):
    client = api(company.agent)
    open_one = next(
        t for t in varied if t.status == Status.NEW and t.provider_department == company.it
    )
    assert client.get(f"/api/v1/tickets/{open_one.pk}/?status=new").status_code == 200
    assert client.get(f"/api/v1/tickets/{open_one.pk}/?status=closed").status_code == 404
    assert client.get("/api/v1/tickets/abc/").status_code == 404
    finance_ticket = next(t for t in varied if t.provider_department_id == company.finance.pk)
    assert client.get(f"/api/v1/tickets/{finance_ticket.pk}/").status_code == 404


def test_cursor_pages_of_rows_walk_every_visible_ticket_once_in_any_order(company, varied, api):
    client = api(company.agent)
    expected = {t.pk for t in varied if t.provider_department_id == company.it.pk}
    for ordering in ("", "priority", "-updated_at", "resolution_due_at", "status"):
        seen: list[int] = []
        url = f"/api/v1/tickets/?page_size=3&ordering={ordering}"
        while url:
            page = client.get(url).json()
            seen += [row["id"] for row in page["results"]]
            url = page["next"]
        assert sorted(seen) == sorted(expected), ordering
        assert len(seen) == len(set(seen)), ordering


def test_events_answer_exactly_what_the_serializer_writes(company, varied, api):
    from tickets.serializers import TicketEventSerializer

    kinds: set[str] = set()
    for language in ("zh-hans", "en"):
        for viewer in (company.agent, company.requester, company.hr_head):
            client = api(viewer)
            for ticket in selectors.visible_tickets(viewer):
                response = client.get(
                    f"/api/v1/tickets/{ticket.pk}/events/", HTTP_ACCEPT_LANGUAGE=language
                )
                events = selectors.ticket_events(viewer, ticket).order_by("at", "id")
                expected = OrderedDict(
                    [
                        ("next", None),
                        ("previous", None),
                        ("results", TicketEventSerializer(events, many=True).data),
                    ]
                )
                assert response.content == JSONRenderer().render(expected)
                kinds |= {event.kind for event in events}
    # The timelines compared hold system events (no actor) and internal notes.
    assert TicketEvent.objects.filter(actor=None, ticket__in=varied).exists()
    assert TicketEvent.objects.filter(internal=True, ticket__in=varied).exists()
    assert {"created", "assigned", "status_changed", "commented"} <= kinds


def test_own_department_filter_needs_no_lookup_and_other_ids_are_still_checked(
    company, varied, api
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def get(url: str):
        client = api(User.objects.get(pk=company.agent.pk))  # roles loaded afresh
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        lookups = [  # the filter's (not the catalog's codes, selectors.catalog_names)
            q
            for q in queries
            if q["sql"].startswith('SELECT "departments_department"') and "WHERE" in q["sql"]
        ]
        return response, len(lookups)

    own, own_lookups = get(f"/api/v1/tickets/?provider_department={company.it.pk}")
    assert own.status_code == 200
    assert {row["id"] for row in own.json()["results"]} == {
        t.pk for t in varied if t.provider_department_id == company.it.pk
    }
    other, other_lookups = get(f"/api/v1/tickets/?provider_department={company.finance.pk}")
    assert other.status_code == 200 and other.json()["results"] == []  # not the agent's
    assert (own_lookups, other_lookups) == (0, 1)  # only the other department is looked up
    for unknown in ("999999", "abc", "-1", "1.5"):
        response, _ = get(f"/api/v1/tickets/?provider_department={unknown}")
        assert response.status_code == 400, unknown
        assert "provider_department" in response.json()["fields"]
