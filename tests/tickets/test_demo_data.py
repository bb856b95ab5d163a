"""The demo company (`load_demo_data`): built through the services, every status, loads once."""

from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from departments.models import Department, Membership, User
from feedback.models import (
    ImprovementAction,
    Kudos,
    Suggestion,
    Survey,
    SurveyResponse,
    TicketRating,
)
from feedback.survey_selectors import survey_results
from tickets.form_schema import validate_schema
from tickets.models import Comment, Service, Status, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

DEMO_TICKETS = 60
DEPARTMENTS = {
    "GM": "总经办",
    "HR": "人力资源部",
    "IT": "信息技术部",
    "FIN": "财务部",
    "ADM": "行政部",
    "MKT": "市场部",
    "SALES": "销售部",
    "LEGAL": "法务部",
    "PUR": "采购部",
    "PROD": "生产部",
    "QA": "质量部",
    "RD": "研发部",
}


def load_demo(**options: object) -> str:
    out = StringIO()
    call_command("load_demo_data", tickets=DEMO_TICKETS, seed=3, stdout=out, **options)
    return out.getvalue()


@pytest.fixture(scope="module")
def demo_output(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """Load the company once for the module (it takes seconds); each test runs in a savepoint."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield load_demo()
        transaction.set_rollback(True)


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (
            Department,
            User,
            Membership,
            Service,
            Ticket,
            Comment,
            TicketEvent,
            TicketRating,
            Kudos,
            Survey,
            SurveyResponse,
            Suggestion,
            ImprovementAction,
        )
    }


def test_demo_company_has_the_twelve_departments_under_the_general_office(demo_output: str) -> None:
    assert dict(Department.objects.values_list("code", "name")) == DEPARTMENTS
    roots = Department.objects.filter(parent=None)
    assert [d.code for d in roots] == ["GM"]
    for department in Department.objects.exclude(code="GM"):
        assert department.parent is not None
    # Every department has one head, agents to work its queue and employees who file requests.
    for department in Department.objects.all():
        roles = dict(department.memberships.values_list("role").annotate(n=Count("pk")))
        assert roles[Membership.Role.HEAD] == 1, department.code
        assert 2 <= roles[Membership.Role.AGENT] <= 4, department.code
        assert department.employees.count() >= 5 + 1 + 2, department.code


def test_demo_logins_sign_in_with_the_demo_password(demo_output: str) -> None:
    for username in ("admin", "employee", "agent", "head"):
        assert authenticate(username=username, password="demo12345") is not None, username
        assert username in demo_output  # the summary tells visitors how to sign in
    admin = User.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert User.objects.get(username="employee").department.code == "HR"
    it_roles = dict(
        Membership.objects.filter(
            department__code="IT", user__username__in=["agent", "head"]
        ).values_list("user__username", "role")
    )
    assert it_roles == {"agent": Membership.Role.AGENT, "head": Membership.Role.HEAD}


def test_demo_catalog_has_valid_forms_and_restricted_services(demo_output: str) -> None:
    services = Service.objects.prefetch_related("allowed_consumers")
    assert services.count() >= 30
    for service in services:
        assert validate_schema(service.form_schema) == service.form_schema, service.name
    market_report = services.get(name="市场分析报告")
    assert market_report.department.code == "MKT"
    assert [d.code for d in market_report.allowed_consumers.all()] == ["SALES"]
    assert Service.objects.filter(department__code="IT", name="笔记本电脑申请").exists()


def test_demo_tickets_cover_every_status_with_real_timelines(demo_output: str) -> None:
    tickets = Ticket.objects.all()
    assert tickets.count() == DEMO_TICKETS
    assert f"tickets {DEMO_TICKETS}/{DEMO_TICKETS}" in demo_output
    assert set(tickets.values_list("status", flat=True)) == set(Status.values)
    assert not tickets.exclude(events__kind=TicketEvent.Kind.CREATED).exists()
    assert Comment.objects.filter(internal=True).exists()
    assert Comment.objects.filter(internal=False).exists()

    now = timezone.now()
    oldest = now - timedelta(days=121)
    assert not tickets.filter(created_at__lt=oldest).exists()
    assert not TicketEvent.objects.filter(at__gt=now).exists()
    for ticket in tickets.prefetch_related("events"):
        times = [event.at for event in ticket.events.all()]  # ordered by (at, id)
        assert times[0] == ticket.created_at, ticket.reference
        assert ticket.updated_at == times[-1], ticket.reference
        if ticket.status in (Status.RESOLVED, Status.CLOSED):
            assert ticket.created_at < ticket.first_response_at <= ticket.resolved_at
        if ticket.status == Status.CLOSED:
            assert ticket.resolved_at <= ticket.closed_at

    # Requesters may request the service; assignees work for the provider.
    for ticket in tickets.select_related("service").prefetch_related("service__allowed_consumers"):
        allowed = {d.pk for d in ticket.service.allowed_consumers.all()}
        assert not allowed or ticket.requester_department_id in allowed, ticket.reference
        if ticket.assignee_id:
            assert Membership.objects.filter(
                user_id=ticket.assignee_id,
                department_id=ticket.provider_department_id,
                role__in=(Membership.Role.AGENT, Membership.Role.HEAD),
            ).exists(), ticket.reference


def test_loading_the_demo_twice_duplicates_nothing(demo_output: str) -> None:
    before = counts()
    second_output = load_demo()
    assert counts() == before
    assert "already exist" in second_output


def test_demo_feedback_fills_the_it_heads_panels(demo_output: str) -> None:
    """Ratings on finished tickets, two closed SERVQUAL campaigns (so a change is shown), an open
    KANO campaign the demo employee is invited to, suggestions and a PDCA board."""
    it = Department.objects.get(code="IT")
    finished = Ticket.objects.filter(status__in=(Status.RESOLVED, Status.CLOSED))
    assert 0 < TicketRating.objects.count() <= finished.count()
    assert not TicketRating.objects.exclude(ticket__in=finished).exists()
    closed = Survey.objects.filter(
        provider_department=it, kind=Survey.Kind.SERVQUAL, state=Survey.State.CLOSED
    ).order_by("-closes_at")
    assert closed.count() == 2 and closed[0].closes_at < timezone.now()
    results = survey_results(closed[0])
    assert results["respondents"] >= 5 and not results.get("suppressed")
    responsiveness = next(d for d in results["dimensions"] if d["dimension"] == "responsiveness")
    assert responsiveness["gap"] < 0 and responsiveness["change"] is not None
    kano = Survey.objects.get(kind=Survey.Kind.KANO)
    assert kano.state == Survey.State.OPEN
    assert kano.invitations.filter(user__username="employee", responded_at=None).exists()
    assert Suggestion.objects.filter(anonymous=True, author__isnull=True).exists()
    assert set(ImprovementAction.objects.values_list("stage", flat=True)) >= {"plan", "do"}
