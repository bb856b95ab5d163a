"""The service map of a large company: beyond 14 departments the arrows would cover each other,
so the page draws the same relationships as a grid (a row per consumer, a column per provider),
busiest first, each cell a link to its tickets and agreement."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from departments.models import Membership
from slas import charts
from tests.factories import DepartmentFactory, ServiceFactory, UserFactory
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

CELL = re.compile(
    r'<a href="([^"]*)" class="cell" data-consumer="(\d+)" data-provider="(\d+)" '
    r'data-tickets="(\d+)"><title>([^<]*)</title><rect [^>]*fill="(#[0-9a-f]+)"/><text [^>]*>'
    r"([^<]*)</text></a>"
)


def _ticket(service, requester, number: int, *, resolved_after: int | None) -> Ticket:
    created = timezone.now() - timedelta(days=2)
    return Ticket.objects.create(
        reference=f"{service.department.code}-2026-{number:06d}",
        title=f"工单{number}",
        service=service,
        provider_department=service.department,
        requester=requester,
        requester_department=requester.department,
        status="resolved" if resolved_after else "in_progress",
        created_at=created,
        resolved_at=created + timedelta(minutes=resolved_after) if resolved_after else None,
        resolution_due_at=created + timedelta(minutes=480),
        resolution_breached=bool(resolved_after and resolved_after > 480),
        resolution_business_seconds=resolved_after * 60 if resolved_after else None,
    )


@pytest.fixture
def large_company(db):
    """Two providers and fifteen consumer departments (17 departments in the map)."""
    providers = [DepartmentFactory(name=f"提供方{i}", code=f"P{i}") for i in range(2)]
    consumers = [DepartmentFactory(name=f"消费方{i:02d}", code=f"C{i:02d}") for i in range(15)]
    services = [ServiceFactory(department=provider) for provider in providers]
    head = UserFactory(username="bighead", department=providers[0])
    Membership.objects.update_or_create(
        user=head, department=providers[0], defaults={"role": Membership.Role.HEAD}
    )
    number = 0
    for index, consumer in enumerate(consumers):
        requester = UserFactory(department=consumer)
        # Consumer i files i + 1 tickets with provider 0 (all in time), and consumer 0 files
        # 20 with provider 1, half of them late.
        for _ in range(index + 1):
            number += 1
            _ticket(services[0], requester, number, resolved_after=60)
        if index == 0:
            for late in range(20):
                number += 1
                _ticket(services[1], requester, number, resolved_after=600 if late % 2 else 60)
    return head, providers, consumers


def test_a_large_company_gets_a_grid_with_a_linked_cell_per_relationship(large_company):
    head, providers, consumers = large_company
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(head)
    html = client.get("/map/").content.decode()
    assert 'class="edge"' not in html  # no arrows
    assert 'class="chart service-matrix" role="group"' in html
    cells = {
        (int(consumer), int(provider)): (int(tickets), colour, text, href)
        for href, consumer, provider, tickets, _title, colour, text in CELL.findall(html)
    }
    assert len(cells) == 16  # 15 consumers → provider 0, consumer 0 → provider 1
    assert cells[(consumers[14].pk, providers[0].pk)][:3] == (15, charts.GREEN, "15")
    assert cells[(consumers[0].pk, providers[1].pk)][:3] == (20, charts.RED, "20")  # 50 %
    href = cells[(consumers[0].pk, providers[1].pk)][3]
    query = f"consumer={consumers[0].pk}&amp;provider={providers[1].pk}&amp;period=30d"
    assert href == f"/map/edge/?{query}"
    assert client.get(href.replace("&amp;", "&")).status_code == 200
    assert "消费方00 → 提供方1: 20 tickets, compliance 50 %" in html
    # Busiest first: provider 0 (120 tickets) is the first column, consumer 0 (21) the first row.
    grid = html[html.index("service-matrix") :]
    assert grid.index(">提供方0<") < grid.index(">提供方1<")
    assert grid.index(">消费方00<") < grid.index(">消费方14<") < grid.index(">消费方01<")
    # The table under it still lists every relationship.
    assert html[html.index('<table class="list edges"') :].count("<tr data-consumer=") == 16


def test_a_small_company_keeps_the_arrows(large_company):
    head, providers, consumers = large_company
    Ticket.objects.filter(requester_department__in=consumers[5:]).delete()
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(head)
    html = client.get("/map/").content.decode()
    assert html.count('class="edge"') == 6 and 'class="cell"' not in html
