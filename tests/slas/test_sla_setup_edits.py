"""Filing and promises use the SLA set-up as it is at that moment: the calendars a process keeps
built between requests (slas.clocks.work_calendar) never outlive an admin's edit.

Calendar: China's official 2025 schedule, Mon–Fri 09:00–12:00 and 13:00–18:00 Asia/Shanghai;
Sun 28 Sep 2025 is a make-up working day (Monday's hours). Normal priority: respond within 120
business minutes, resolve within 480 (one working day).
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from slas.calendars import import_china_years
from slas.models import Agreement, SlaPolicy
from tests.factories import UserFactory
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
TARGETS = {
    "urgent": {"response": 30, "resolution": 240},
    "high": {"response": 60, "resolution": 480},
    "normal": {"response": 120, "resolution": 480},
    "low": {"response": 480, "resolution": 2400},
}


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def policy(company) -> SlaPolicy:
    calendar, _years = import_china_years(years=[2025])
    policy = SlaPolicy.objects.create(name="标准", calendar=calendar, targets=TARGETS)
    company.it.default_sla_policy = policy
    company.it.save()
    return policy


@pytest.fixture
def admin():
    return UserFactory(username="root", is_staff=True)


def file_at(company, when: datetime) -> Ticket:
    with time_machine.travel(when, tick=False):
        return services.file_ticket(
            requester=company.requester,
            service=company.service,
            title="显示器坏了",
            priority="normal",
            form_data={"model": "14寸"},
        )


def promise(api, company, at: str, **params) -> dict:
    response = api(company.requester).get(
        f"/api/v1/services/{company.service.pk}/promise/", {"at": at, **params}
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_a_make_up_day_turned_into_a_holiday_moves_the_next_due_time(api, admin, company, policy):
    # Fri 26 Sep 17:00 + 8 h: Fri 17–18, then the make-up Sunday 09–12, 13–17.
    assert file_at(company, sh(2025, 9, 26, 17, 0)).resolution_due_at == sh(2025, 9, 28, 17, 0)
    sunday = policy.calendar.days.get(date="2025-09-28")
    r = api(admin).patch(
        f"/api/v1/calendars/{policy.calendar_id}/days/{sunday.pk}/", {"kind": "closed"}
    )
    assert r.status_code == 200, r.content
    # The same day edited in place: Fri 17–18, then Mon 29 Sep 09–12, 13–17.
    assert file_at(company, sh(2025, 9, 26, 17, 0)).resolution_due_at == sh(2025, 9, 29, 17, 0)
    assert promise(api, company, "2025-09-26T17:00:00+08:00")["resolution_due_at"] == (
        "2025-09-29T17:00:00+08:00"
    )


def test_shorter_friday_hours_apply_to_the_next_filing(api, admin, company, policy):
    # Fri 26 Sep 11:00 + 8 h: Fri 11–12 and 13–18 (6 h), then the make-up Sunday 09–11.
    assert file_at(company, sh(2025, 9, 26, 11, 0)).resolution_due_at == sh(2025, 9, 28, 11, 0)
    office = [["09:00", "12:00"], ["13:00", "18:00"]]
    week = {"mon": office, "tue": office, "wed": office, "thu": office, "fri": [["09:00", "12:00"]]}
    r = api(admin).patch(
        f"/api/v1/calendars/{policy.calendar_id}/", {"working_hours": week}, format="json"
    )
    assert r.status_code == 200, r.content
    # Friday now ends at noon: Fri 11–12 (1 h), then the make-up Sunday 09–12, 13–17.
    assert file_at(company, sh(2025, 9, 26, 11, 0)).resolution_due_at == sh(2025, 9, 28, 17, 0)


def test_a_policy_edit_applies_to_the_next_promise(api, admin, company, policy):
    assert promise(api, company, "2025-09-22T09:00:00+08:00")["response_due_at"] == (
        "2025-09-22T11:00:00+08:00"
    )
    faster = {**TARGETS, "normal": {"response": 30, "resolution": 120}}
    r = api(admin).patch(f"/api/v1/sla-policies/{policy.pk}/", {"targets": faster}, format="json")
    assert r.status_code == 200, r.content
    body = promise(api, company, "2025-09-22T09:00:00+08:00")
    assert body["response_target_minutes"] == 30
    assert body["response_due_at"] == "2025-09-22T09:30:00+08:00"
    assert body["resolution_due_at"] == "2025-09-22T11:00:00+08:00"


def test_time_left_on_a_ticket_follows_a_holiday_declared_after_filing(api, admin, company, policy):
    ticket = file_at(company, sh(2025, 9, 22, 9, 0))  # due Mon 22 Sep 18:00
    with time_machine.travel(sh(2025, 9, 22, 10, 0), tick=False):
        body = api(company.requester).get(f"/api/v1/tickets/{ticket.pk}/").json()
        assert body["resolution_remaining_minutes"] == 7 * 60  # 10–12 and 13–18
        r = api(admin).post(
            f"/api/v1/calendars/{policy.calendar_id}/days/",
            {"date": "2025-09-22", "kind": "closed", "name": "公司庆典"},
        )
        assert r.status_code == 201, r.content
        # The rest of Monday is closed now: no business time left before 18:00.
        body = api(company.requester).get(f"/api/v1/tickets/{ticket.pk}/").json()
        assert body["resolution_remaining_minutes"] == 0


def test_someone_without_a_department_gets_the_all_consumers_agreement(api, company, policy):
    everyone = SlaPolicy.objects.create(name="全部", calendar=policy.calendar, targets=TARGETS)
    hr_only = SlaPolicy.objects.create(name="HR", calendar=policy.calendar, targets=TARGETS)
    for_everyone = Agreement.objects.create(provider_department=company.it, policy=everyone)
    Agreement.objects.create(
        provider_department=company.it, consumer_department=company.hr, policy=hr_only
    )
    url = f"/api/v1/services/{company.service.pk}/promise/"
    assert api(company.requester).get(url).json()["policy"] == hr_only.pk
    body = api(UserFactory(username="visitor", department=None)).get(url).json()
    assert (body["policy"], body["agreement"]) == (everyone.pk, for_everyone.pk)
