"""SLA policies and agreements over the API: admins write, everyone reads, bad input is named."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from departments.models import User
from slas import config_cache
from slas.models import BusinessCalendar, SlaPolicy
from slas.policies import recompute_policy_tickets
from tickets import services

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
TARGETS = {p: {"response": 60, "resolution": 480} for p in ("urgent", "high", "normal", "low")}


@pytest.fixture
def admin():
    return User.objects.create_user("root", password="x", is_staff=True)


@pytest.fixture
def calendar():
    return BusinessCalendar.objects.create(name="工作日")


def test_admin_creates_a_policy_and_everyone_reads_it(api, admin, calendar, company):
    body = {
        "name": "标准",
        "calendar": calendar.pk,
        "targets": TARGETS,
        "warning_percent": 80,
        "ladder": [
            {"at_percent": 150, "notify": "parent_department_head"},
            {"at_percent": 100, "notify": "department_head"},
        ],
    }
    r = api(admin).post("/api/v1/sla-policies/", body, format="json")
    assert r.status_code == 201, r.json()
    # The ladder is kept in percent order.
    assert [lvl["at_percent"] for lvl in r.json()["ladder"]] == [100, 150]
    r = api(company.requester).get("/api/v1/sla-policies/")
    assert r.json()["results"][0]["targets"] == TARGETS
    r = api(company.it_head).post("/api/v1/sla-policies/", {**body, "name": "x"}, format="json")
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"targets": {k: v for k, v in TARGETS.items() if k != "low"}}, "targets.low"),
        (
            {"targets": {**TARGETS, "normal": {"response": 0, "resolution": 480}}},
            "targets.normal.response",
        ),
        (
            {"targets": {**TARGETS, "normal": {"response": "1h", "resolution": 480}}},
            "targets.normal.response",
        ),
        (
            {"targets": {**TARGETS, "critical": {"response": 1, "resolution": 2}}},
            "targets.critical",
        ),
        ({"ladder": [{"at_percent": 100, "notify": "ceo"}]}, "ladder.0.notify"),
        ({"ladder": [{"at_percent": 0, "notify": "assignee"}]}, "ladder.0.at_percent"),
        ({"ladder": "100%"}, "ladder"),
        ({"warning_percent": 100}, "warning_percent"),
    ],
)
def test_bad_policies_are_refused_naming_the_field(api, admin, calendar, change, field):
    body = {"name": "标准", "calendar": calendar.pk, "targets": TARGETS, **change}
    r = api(admin).post("/api/v1/sla-policies/", body, format="json")
    assert r.status_code == 400
    assert field in r.json()["fields"], r.json()
    assert not SlaPolicy.objects.exists()


def test_editing_a_policy_recomputes_its_open_tickets(
    api, admin, calendar, company, django_capture_on_commit_callbacks
):
    policy = SlaPolicy.objects.create(name="标准", calendar=calendar, targets=TARGETS)
    company.it.default_sla_policy = policy
    company.it.save()
    filed = datetime(2025, 9, 22, 9, 0, tzinfo=SH)  # a Monday; weekly hours only
    with time_machine.travel(filed, tick=False):
        ticket = services.file_ticket(
            requester=company.requester,
            service=company.service,
            title="网络慢",
            form_data={"model": "14寸"},
        )
    assert ticket.resolution_due_at == datetime(2025, 9, 22, 18, 0, tzinfo=SH)
    faster = {**TARGETS, "normal": {"response": 30, "resolution": 120}}
    with django_capture_on_commit_callbacks() as callbacks:
        r = api(admin).patch(
            f"/api/v1/sla-policies/{policy.pk}/", {"targets": faster}, format="json"
        )
    assert r.status_code == 200, r.json()
    # The recompute is enqueued after commit (beside the new SLA configuration version).
    assert len([c for c in callbacks if c is not config_cache.announce_change]) == 1
    assert recompute_policy_tickets(policy_id=policy.pk) == 1
    ticket.refresh_from_db()
    assert ticket.response_due_at == datetime(2025, 9, 22, 9, 30, tzinfo=SH)
    assert ticket.resolution_due_at == datetime(2025, 9, 22, 11, 0, tzinfo=SH)


def test_agreements_are_unique_per_scope(api, admin, calendar, company):
    policy = SlaPolicy.objects.create(name="标准", calendar=calendar, targets=TARGETS)
    body = {
        "provider_department": company.it.pk,
        "consumer_department": None,
        "service": None,
        "policy": policy.pk,
        "relation_type": "functional",
    }
    assert api(admin).post("/api/v1/agreements/", body, format="json").status_code == 201
    r = api(admin).post("/api/v1/agreements/", body, format="json")
    assert r.status_code == 400
    assert "consumer_department" in r.json()["fields"]
    r = api(admin).post(
        "/api/v1/agreements/", {**body, "relation_type": "friendship"}, format="json"
    )
    assert r.status_code == 400 and "relation_type" in r.json()["fields"]


def test_a_new_holiday_recomputes_open_tickets_on_that_calendar(
    api, admin, calendar, company, django_capture_on_commit_callbacks
):
    policy = SlaPolicy.objects.create(name="标准", calendar=calendar, targets=TARGETS)
    company.it.default_sla_policy = policy
    company.it.save()
    with time_machine.travel(datetime(2025, 9, 22, 17, 0, tzinfo=SH), tick=False):
        ticket = services.file_ticket(
            requester=company.requester,
            service=company.service,
            title="网络慢",
            form_data={"model": "14寸"},
        )
    # Mon 17:00 + 8 h (weekly hours only): Mon 17–18, Tue 09–12, 13–17 → Tue 23 Sep 17:00.
    assert ticket.resolution_due_at == datetime(2025, 9, 23, 17, 0, tzinfo=SH)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        r = api(admin).post(
            f"/api/v1/calendars/{calendar.pk}/days/",
            {"date": "2025-09-23", "kind": "closed", "name": "公司庆典"},
            format="json",
        )
    assert r.status_code == 201, r.json()
    assert callbacks, "adding a closed day schedules the recompute"
    recompute_policy_tickets(policy_id=policy.pk)
    ticket.refresh_from_db()
    # Tue 23 Sep is now closed: Mon 17–18 (1 h), then Wed 24 Sep 09–12, 13–17 → Wed 17:00.
    assert ticket.resolution_due_at == datetime(2025, 9, 24, 17, 0, tzinfo=SH)
