"""The heads' dashboard on SQLite (the embedded set-up): served from the daily figures through
statements compiled once (SQLite takes their values as parameters) and tallies kept between
views, it shows what it shows from the tickets (medians aside: interpolated in buckets), folded,
with a ticket filed today, after changes today and on an older day, and folded again (issue
#6, slas/figures.py)."""

from tests.embedded.test_sqlite_writers import migrated, run_ok  # noqa: F401 - the fixture

DASHBOARD = r"""
import random
import re
from datetime import timedelta

import django

django.setup()
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from departments.models import Department, Membership, User
from slas import figures
from tickets import services
from tickets.models import Service, Ticket

assert connection.vendor == "sqlite"
settings.ALLOWED_HOSTS = ["*"]
it = Department.objects.create(name="信息技术部", code="IT")
hr = Department.objects.create(name="人力资源部", code="HR")
head = User.objects.create(username="head", department=it)
Membership.objects.create(user=head, department=it, role=Membership.Role.HEAD)
agent = User.objects.create(username="agent", first_name="强", last_name="王", department=it)
Membership.objects.create(user=agent, department=it, role=Membership.Role.AGENT)
requester = User.objects.create(username="requester", department=hr)
service = Service.objects.create(department=it, name="电脑")
rng, now = random.Random(5), timezone.now()
for number in range(120):
    created = now - timedelta(days=rng.uniform(0, 100))
    responded, resolved = rng.choice([None, 5, 30, 90]), rng.choice([None, 60, 300, 900, 3000])
    Ticket.objects.create(
        reference=f"OLD-{number:06}", title=f"请求 <{number}>", service=service,
        provider_department=it, requester=requester, requester_department=hr if number % 4 else it,
        assignee=agent if number % 3 else None, priority=rng.choice(["low", "normal", "urgent"]),
        status="resolved" if resolved else rng.choice(["new", "assigned", "in_progress"]),
        created_at=created,
        first_response_at=created + timedelta(minutes=responded) if responded else None,
        resolved_at=created + timedelta(minutes=resolved) if resolved else None,
        response_due_at=created + timedelta(minutes=60),
        resolution_due_at=created + timedelta(minutes=480),
        response_breached=bool(responded and responded > 60),
        resolution_breached=bool(resolved and resolved > 480),
        response_business_seconds=responded * 60 if responded else None,
        resolution_business_seconds=resolved * 60 if resolved else None,
    )
figures.rebuild()
client = Client(HTTP_ACCEPT_LANGUAGE="en")
client.force_login(head)


def page(url):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())
    html = re.sub(r"chart\d+", "chart", html)
    return re.sub(r"(\(business minutes\): )[^<]*", r"\1", html)


def same(state):
    for url in ("/dashboard/?period=90d", "/dashboard/?period=365d", "/dashboard/"):
        served = page(url)
        ready, figures.ready = figures.ready, lambda: False
        try:
            computed = page(url)
        finally:
            figures.ready = ready
        assert served == computed, (state, url)
        assert "请求 &lt;" in served, (state, url)  # breaches listed, escaped


same("folded")
same("folded, kept")
filed = services.file_ticket(requester=requester, service=service, title="今天", form_data={})
same("a ticket filed today")
same("a ticket filed today, kept")
services.transition_ticket(ticket=filed, actor=agent, status="resolved")
same("resolved today")
older = Ticket.objects.filter(status="new").order_by("created_at").first()
services.update_ticket(ticket=older, actor=agent, priority="urgent")
same("an older day changed")
assert figures.fold_changes() > 0
same("folded again")
assert any(key[3] == "period" for key in figures._kept), list(figures._kept)
print("ok")
"""


def test_the_dashboard_on_sqlite_shows_what_the_tickets_say(migrated):  # noqa: F811 - fixture
    run_ok(DASHBOARD, migrated)
