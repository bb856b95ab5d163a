"""Admins configure departments, catalog, calendars and policies in Django admin."""

import json

import pytest

from departments.models import User
from slas.models import BusinessCalendar, SlaPolicy

pytestmark = pytest.mark.django_db

PAGES = [
    "/admin/departments/department/",
    "/admin/departments/department/add/",
    "/admin/departments/user/",
    "/admin/departments/membership/",
    "/admin/tickets/service/",
    "/admin/tickets/service/add/",
    "/admin/tickets/ticket/",
    "/admin/slas/businesscalendar/",
    "/admin/slas/businesscalendar/add/",
    "/admin/slas/slapolicy/",
    "/admin/slas/slapolicy/add/",
    "/admin/slas/agreement/",
    "/admin/slas/agreement/add/",
    "/admin/slas/escalation/",
    "/admin/slas/calendarday/",
]


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
    return client


@pytest.mark.parametrize("url", PAGES)
def test_admin_page_loads(admin_client, company, url):
    assert admin_client.get(url).status_code == 200


def test_admin_adds_a_policy_and_is_told_about_bad_targets(admin_client):
    calendar = BusinessCalendar.objects.create(name="工作日")
    good = {p: {"response": 60, "resolution": 480} for p in ("urgent", "high", "normal", "low")}
    form = {"name": "标准", "calendar": calendar.pk, "warning_percent": 75, "ladder": "[]"}
    bad = admin_client.post(
        "/admin/slas/slapolicy/add/", {**form, "targets": json.dumps({"urgent": good["urgent"]})}
    )
    assert bad.status_code == 200
    assert "targets.high" in bad.content.decode()
    assert not SlaPolicy.objects.exists()
    ok = admin_client.post("/admin/slas/slapolicy/add/", {**form, "targets": json.dumps(good)})
    assert ok.status_code == 302
    assert SlaPolicy.objects.get().targets == good
