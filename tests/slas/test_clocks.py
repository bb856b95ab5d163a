"""SLA clocks on tickets, checked against China's published 2025 schedule worked out by hand.

Calendar: Mon–Fri 09:00–12:00 and 13:00–18:00 Asia/Shanghai (8 business hours a day), with the
official 2025 holidays (1–8 Oct closed) and make-up working days (Sun 28 Sep, Sat 11 Oct).
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from slas.calendars import import_china_years
from slas.models import Agreement, SlaPolicy
from tests.factories import ServiceFactory
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


TARGETS = {
    "urgent": {"response": 30, "resolution": 240},
    "high": {"response": 60, "resolution": 480},
    "normal": {"response": 120, "resolution": 480},
    "low": {"response": 480, "resolution": 2400},
}


@pytest.fixture
def china_policy(company) -> SlaPolicy:
    calendar, _ = import_china_years(years=[2025])
    policy = SlaPolicy.objects.create(name="标准", calendar=calendar, targets=TARGETS)
    company.it.default_sla_policy = policy
    company.it.save()
    return policy


def file_at(company, when: datetime, priority: str = "normal") -> Ticket:
    with time_machine.travel(when, tick=False):
        return services.file_ticket(
            requester=company.requester,
            service=company.service,
            title="显示器坏了",
            priority=priority,
            form_data={"model": "14寸"},
        )


def act(when: datetime, fn, **kwargs):
    with time_machine.travel(when, tick=False):
        return fn(**kwargs)


def test_friday_evening_ticket_is_due_on_the_make_up_sunday(company, china_policy):
    # Fri 26 Sep 17:00 + 8 h: 1 h on Friday (17–18), Sat 27 is a plain weekend, Sun 28 Sep is a
    # make-up working day: 09–12 (3 h) + 13–17 (4 h) → due Sun 28 Sep 17:00.
    ticket = file_at(company, sh(2025, 9, 26, 17, 0))
    assert ticket.resolution_due_at == sh(2025, 9, 28, 17, 0)
    # Response target 120 min: 17–18 on Friday, then 09:00–10:00 on the make-up Sunday.
    assert ticket.response_due_at == sh(2025, 9, 28, 10, 0)
    assert ticket.next_sla_check_at is not None
    assert ticket.sla_policy == china_policy


def test_national_day_holiday_is_skipped(company, china_policy):
    # Tue 30 Sep 16:00 + 8 h: 2 h on 30 Sep, 1–8 Oct closed, Thu 9 Oct 09–12 (3 h), 13–16 (3 h).
    ticket = file_at(company, sh(2025, 9, 30, 16, 0))
    assert ticket.resolution_due_at == sh(2025, 10, 9, 16, 0)


def test_waiting_pauses_the_resolution_clock_by_exactly_the_waited_business_time(
    company, china_policy
):
    # Filed Mon 22 Sep 09:00, 8 h → due Mon 22 Sep 18:00.
    ticket = file_at(company, sh(2025, 9, 22, 9, 0))
    assert ticket.resolution_due_at == sh(2025, 9, 22, 18, 0)
    act(
        sh(2025, 9, 22, 10, 0),
        services.transition_ticket,
        ticket=ticket,
        actor=company.agent,
        status="in_progress",
    )
    act(
        sh(2025, 9, 22, 11, 0),
        services.transition_ticket,
        ticket=ticket,
        actor=company.agent,
        status="waiting",
    )
    # The requester answers Tue 23 Sep 10:30. Waited business time: Mon 11–12 (1 h) + 13–18 (5 h)
    # + Tue 09–10:30 (1.5 h) = 7.5 h, so the due time moves 7.5 business hours later:
    # Mon 18:00 + 7.5 h = Tue 09–12 (3 h) + 13–17:30 (4.5 h) → Tue 23 Sep 17:30.
    act(
        sh(2025, 9, 23, 10, 30),
        services.add_comment,
        ticket=ticket,
        author=company.requester,
        body="型号是 14 寸",
    )
    ticket.refresh_from_db()
    assert ticket.status == "in_progress"
    assert ticket.resolution_paused_seconds == 7.5 * 3600
    assert ticket.resolution_due_at == sh(2025, 9, 23, 17, 30)
    # The response clock does not pause: it stopped at the first response (10:00, 60 min).
    assert ticket.response_business_seconds == 3600
    assert ticket.response_due_at == sh(2025, 9, 22, 11, 0)


def test_resolution_stops_the_clock_and_reopen_resumes_it(company, china_policy):
    ticket = file_at(company, sh(2025, 9, 22, 9, 0))
    act(
        sh(2025, 9, 22, 13, 0),
        services.transition_ticket,
        ticket=ticket,
        actor=company.agent,
        status="resolved",
    )
    ticket.refresh_from_db()
    # 09–12 and nothing in lunch: 3 business hours to resolve.
    assert ticket.resolution_business_seconds == 3 * 3600
    assert ticket.resolution_breached is False
    assert ticket.next_sla_check_at is None
    # Auto-close: end of the 3rd working day after Mon 22 Sep → Thu 25 Sep 18:00.
    assert ticket.auto_close_at == sh(2025, 9, 25, 18, 0)
    # Reopened Tue 23 Sep 10:00: the resolved time (Mon 13–18 = 5 h, Tue 09–10 = 1 h) is a pause.
    act(
        sh(2025, 9, 23, 10, 0),
        services.transition_ticket,
        ticket=ticket,
        actor=company.requester,
        status="in_progress",
    )
    ticket.refresh_from_db()
    assert ticket.auto_close_at is None
    assert ticket.resolution_paused_seconds == 6 * 3600
    # Due = filed + 8 h + 6 h paused = Mon 09:00 + 14 h → Mon full day (8 h) + Tue 09–12, 13–16.
    assert ticket.resolution_due_at == sh(2025, 9, 23, 16, 0)
    assert ticket.next_sla_check_at is not None


def test_late_first_response_is_flagged_as_a_breach(company, china_policy):
    ticket = file_at(company, sh(2025, 9, 22, 9, 0))  # respond by 11:00
    act(
        sh(2025, 9, 22, 14, 0),
        services.add_comment,
        ticket=ticket,
        author=company.agent,
        body="收到",
    )
    ticket.refresh_from_db()
    assert ticket.response_breached is True
    assert ticket.response_business_seconds == 4 * 3600  # 09–12 + 13–14
    assert ticket.resolution_breached is False


def test_priority_change_recomputes_due_times(company, china_policy, api):
    ticket = file_at(company, sh(2025, 9, 22, 9, 0))
    with time_machine.travel(sh(2025, 9, 22, 9, 30), tick=False):
        r = api(company.agent).patch(
            f"/api/v1/tickets/{ticket.pk}/", {"priority": "urgent"}, format="json"
        )
    assert r.status_code == 200, r.json()
    # Urgent: respond within 30 min, resolve within 240 min of filing (09:00).
    assert r.json()["response_due_at"] == "2025-09-22T09:30:00+08:00"
    assert r.json()["resolution_due_at"] == "2025-09-22T14:00:00+08:00"


def test_promise_gives_exactly_the_due_times_of_filing_then(company, china_policy, api):
    at = "2025-09-26T17:00:00+08:00"
    r = api(company.requester).get(
        f"/api/v1/services/{company.service.pk}/promise/", {"at": at, "priority": "normal"}
    )
    assert r.status_code == 200, r.json()
    promise = r.json()
    assert promise["policy"] == china_policy.pk
    assert promise["agreement"] is None
    assert promise["calendar"] == china_policy.calendar_id
    assert promise["response_target_minutes"] == 120
    assert promise["resolution_target_minutes"] == 480
    assert promise["resolution_due_at"] == "2025-09-28T17:00:00+08:00"
    ticket = file_at(company, sh(2025, 9, 26, 17, 0))
    r = api(company.requester).get(f"/api/v1/tickets/{ticket.pk}/")
    assert r.json()["response_due_at"] == promise["response_due_at"]
    assert r.json()["resolution_due_at"] == promise["resolution_due_at"]


def test_due_time_in_an_unknown_year_is_flagged(company, china_policy, api):
    # The calendar knows 2025 only; Wed 31 Dec 2025 17:00 + 8 h reaches into 2026.
    ticket = file_at(company, sh(2025, 12, 31, 17, 0))
    assert [w["code"] for w in ticket.sla_warnings] == ["calendar_year_unknown"]
    assert "2026" in ticket.sla_warnings[0]["detail"]
    r = api(company.requester).get(
        f"/api/v1/services/{company.service.pk}/promise/", {"at": "2025-12-31T17:00:00+08:00"}
    )
    assert [w["code"] for w in r.json()["warnings"]] == ["calendar_year_unknown"]
    # Weekly hours only: Wed 17–18 (1 h), Thu 1 Jan counts as a weekday → 09–12, 13–17.
    assert ticket.resolution_due_at == sh(2026, 1, 1, 17, 0)


def test_the_most_specific_agreement_wins(company, china_policy, api):
    calendar = china_policy.calendar
    fast = {p: {"response": 10, "resolution": 60} for p in TARGETS}
    slow = {p: {"response": 600, "resolution": 6000} for p in TARGETS}
    all_policy = SlaPolicy.objects.create(name="全部", calendar=calendar, targets=slow)
    consumer_policy = SlaPolicy.objects.create(name="HR", calendar=calendar, targets=slow)
    service_policy = SlaPolicy.objects.create(name="服务", calendar=calendar, targets=slow)
    exact_policy = SlaPolicy.objects.create(name="精确", calendar=calendar, targets=fast)
    Agreement.objects.create(provider_department=company.it, policy=all_policy)
    Agreement.objects.create(
        provider_department=company.it, consumer_department=company.hr, policy=consumer_policy
    )
    Agreement.objects.create(
        provider_department=company.it, service=company.service, policy=service_policy
    )
    exact = Agreement.objects.create(
        provider_department=company.it,
        service=company.service,
        consumer_department=company.hr,
        policy=exact_policy,
    )
    client = api(company.requester)
    url = f"/api/v1/services/{company.service.pk}/promise/"
    assert client.get(url).json()["agreement"] == exact.pk
    exact.delete()
    assert client.get(url).json()["policy"] == service_policy.pk
    Agreement.objects.filter(service=company.service).delete()
    assert client.get(url).json()["policy"] == consumer_policy.pk
    # Another consumer (finance) falls back to the all-consumers agreement.
    r = client.get(url, {"consumer_department": company.finance.pk})
    assert r.json()["policy"] == all_policy.pk
    Agreement.objects.all().delete()
    company.service.sla_policy = service_policy
    company.service.save()
    assert client.get(url).json()["policy"] == service_policy.pk
    company.service.sla_policy = None
    company.service.save()
    assert client.get(url).json()["policy"] == china_policy.pk  # the provider's default


def test_no_policy_means_no_due_times(company, api):
    ticket = file_at(company, sh(2025, 9, 22, 9, 0))
    assert ticket.response_due_at is None and ticket.next_sla_check_at is None
    r = api(company.requester).get(f"/api/v1/services/{company.service.pk}/promise/")
    assert r.json()["policy"] is None and r.json()["resolution_due_at"] is None


def test_ticket_api_shows_remaining_business_minutes(company, china_policy, api):
    ticket = file_at(company, sh(2025, 9, 22, 9, 0))  # respond by 11:00, resolve by 18:00
    with time_machine.travel(sh(2025, 9, 22, 10, 0), tick=False):
        body = api(company.requester).get(f"/api/v1/tickets/{ticket.pk}/").json()
    assert body["response_remaining_minutes"] == 60
    assert body["resolution_remaining_minutes"] == 7 * 60  # 10–12 and 13–18
    with time_machine.travel(sh(2025, 9, 22, 14, 0), tick=False):
        body = api(company.requester).get(f"/api/v1/tickets/{ticket.pk}/").json()
    assert body["response_remaining_minutes"] == -2 * 60  # overdue by 11–12 and 13–14


def test_service_in_another_department_cannot_be_bound_to_an_agreement(company, china_policy, api):
    from departments.models import User

    admin = User.objects.create_user("root", password="x", is_staff=True)
    other = ServiceFactory(department=company.finance)
    r = api(admin).post(
        "/api/v1/agreements/",
        {
            "provider_department": company.it.pk,
            "service": other.pk,
            "policy": china_policy.pk,
            "relation_type": "process",
        },
        format="json",
    )
    assert r.status_code == 400
    assert "service" in r.json()["fields"]


def test_admins_are_warned_once_before_a_calendar_runs_out(company, china_policy, settings):
    from datetime import date

    from django.core import mail

    from departments.models import User
    from slas.escalation import warn_calendar_coverage
    from tickets.models import Notification

    settings.CALENDAR_WARNING_DAYS = 60
    admin = User.objects.create_user("root", email="root@example.com", password="x", is_staff=True)
    # The calendar knows 2025 only. Mid-October, 2026 is still more than 60 days away.
    assert warn_calendar_coverage(today=date(2025, 10, 15)) == 0
    # On 2 November, 60 days ahead reaches 1 January 2026.
    assert warn_calendar_coverage(today=date(2025, 11, 2)) == 1
    notice = Notification.objects.get(user=admin)
    assert "2026" in notice.message and str(china_policy.calendar_id) in notice.message
    assert len(mail.outbox) == 1
    # Said once: a second run the next day tells nobody again.
    assert warn_calendar_coverage(today=date(2025, 11, 3)) == 0
    assert Notification.objects.filter(user=admin).count() == 1


def test_ticket_page_shows_due_times_and_business_time_left(company, china_policy, client):
    ticket = file_at(company, sh(2025, 9, 22, 9, 0))  # respond by 11:00, resolve by 18:00
    client.force_login(company.requester)
    with time_machine.travel(sh(2025, 9, 22, 14, 0), tick=False):
        page = client.get(f"/tickets/{ticket.reference}/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Respond by" in text and "Resolve by" in text
    assert "overdue by 120 business minutes" in text  # 11–12 and 13–14
    assert "240 business minutes left" in text  # 14–18


def test_ticket_list_with_remaining_times_costs_the_same_for_5_or_40_tickets(
    company, china_policy, api
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(company.agent)
    client.get("/api/v1/tickets/")  # warm up the user's roles

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            r = client.get("/api/v1/tickets/?page_size=100")
        assert r.status_code == 200
        return len(queries)

    for _ in range(5):
        file_at(company, sh(2025, 9, 22, 9, 0))
    few = count_queries()
    for _ in range(35):
        file_at(company, sh(2025, 9, 23, 9, 0), priority="high")
    assert count_queries() == few


def test_ticket_page_refreshes_the_time_left_every_minute(company, china_policy, client):
    ticket = file_at(company, sh(2025, 9, 22, 9, 0))  # resolve by 18:00
    client.force_login(company.requester)
    with time_machine.travel(sh(2025, 9, 22, 10, 0), tick=False):
        page = client.get(f"/tickets/{ticket.reference}/", HTTP_ACCEPT_LANGUAGE="en")
    assert 'hx-trigger="every 60s"' in page.content.decode()
    with time_machine.travel(sh(2025, 9, 22, 17, 0), tick=False):
        block = client.get(f"/tickets/{ticket.reference}/clocks/", HTTP_ACCEPT_LANGUAGE="en")
    assert block.status_code == 200
    assert "60 business minutes left" in block.content.decode()  # 17–18
    client.force_login(company.finance_agent)
    assert client.get(f"/tickets/{ticket.reference}/clocks/").status_code == 404
