"""The data-set generator (bench/dataset.py, `generate_dataset`) loads a consistent company.

One small data set (2,000 tickets) is generated for the module with the real command; the tests
read it inside rolled-back transactions.
"""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, F, Q

from bench import dataset
from departments.models import Department, Membership, User
from feedback.models import TicketRating
from slas.business_time import add_business_seconds
from slas.clocks import work_calendar
from slas.models import Escalation, SlaPolicy
from tickets import services
from tickets.models import OPEN_STATUSES, Comment, Service, Ticket, TicketEvent, TicketSequence
from tickets.selectors import visible_tickets

TICKETS = 2000
DEPARTMENTS = 15
USERS = 300
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        call_command(
            "generate_dataset",
            tickets=TICKETS,
            departments=DEPARTMENTS,
            users=USERS,
            force=True,  # the test database's name need not contain "bench"
            stdout=open("/dev/null", "w"),  # noqa: SIM115 - progress output is not the subject
        )
        with connection.cursor() as cursor:
            info = dataset.dataset_info(cursor)
        yield info
        with connection.cursor() as cursor:
            dataset.reset(cursor)


pytestmark = pytest.mark.usefixtures("loaded")


@pytest.mark.django_db
def test_company_has_the_requested_size_and_about_3_events_and_2_comments_per_ticket():
    assert Ticket.objects.count() == TICKETS
    assert Department.objects.count() == DEPARTMENTS
    assert User.objects.filter(department__isnull=False).count() == USERS
    events = TicketEvent.objects.count() / TICKETS
    comments = Comment.objects.count() / TICKETS
    assert 2.5 <= events <= 5, events
    assert 1.5 <= comments <= 2.5, comments
    internal = Comment.objects.filter(internal=True).count() / Comment.objects.count()
    assert 0.1 <= internal <= 0.4, internal
    assert TicketEvent.objects.filter(kind="created").count() == TICKETS


@pytest.mark.django_db
def test_a_fifth_of_tickets_is_open_and_the_mix_is_realistic():
    open_share = Ticket.objects.filter(status__in=OPEN_STATUSES).count() / TICKETS
    assert 0.16 <= open_share <= 0.24, open_share
    statuses = set(Ticket.objects.values_list("status", flat=True))
    assert {"new", "assigned", "in_progress", "waiting", "closed", "cancelled"} <= statuses
    priorities = dict(Ticket.objects.values_list("priority").annotate(n=Count("id")))
    assert max(priorities, key=priorities.get) == "normal"
    assert set(priorities) == {"urgent", "high", "normal", "low"}
    breached = Ticket.objects.filter(status="closed", resolution_breached=True).count()
    closed = Ticket.objects.filter(status="closed").count()
    assert 0.05 <= breached / closed <= 0.35  # most closed tickets met their target


@pytest.mark.django_db
def test_two_years_of_history_with_more_tickets_recently(loaded):
    generated = datetime.fromisoformat(loaded["generated_at"])
    oldest = Ticket.objects.order_by("created_at").first().created_at
    assert timedelta(days=700) <= generated - oldest <= timedelta(days=731)
    last_year = Ticket.objects.filter(created_at__gte=generated - timedelta(days=365)).count()
    assert last_year > TICKETS * 0.55


@pytest.mark.django_db
def test_requesters_ask_other_departments_and_assignees_are_provider_agents():
    assert not Ticket.objects.filter(requester_department_id=F("provider_department_id")).exists()
    assert not Ticket.objects.exclude(
        requester_department_id=F("requester__department_id")
    ).exists()
    assigned = Ticket.objects.filter(assignee__isnull=False)
    not_agents = assigned.exclude(
        assignee__memberships__department_id=F("provider_department_id"),
        assignee__memberships__role__in=[Membership.Role.AGENT, Membership.Role.HEAD],
    )
    assert assigned.exists() and not not_agents.exists()
    assert not Ticket.objects.filter(status="new", assignee__isnull=False).exists()


@pytest.mark.django_db
def test_references_are_unique_and_read_code_year_number():
    rows = Ticket.objects.values_list("reference", "provider_department__code", "created_at")
    references = [reference for reference, _code, _at in rows]
    assert len(set(references)) == TICKETS
    for reference, code, created_at in rows:
        assert re.fullmatch(rf"{code}-{created_at.astimezone(SHANGHAI).year}-\d{{6}}", reference)


@pytest.mark.django_db
def test_sla_fields_follow_the_policy_and_calendar():
    policy = SlaPolicy.objects.select_related("calendar").get(name="基准 标准服务")
    cal = work_calendar(policy.calendar)
    for ticket in Ticket.objects.filter(sla_policy=policy).order_by("id")[:60]:
        target = policy.targets[ticket.priority]
        assert ticket.response_due_at == add_business_seconds(
            cal, ticket.created_at, target["response"] * 60
        )
        assert ticket.resolution_due_at == add_business_seconds(
            cal, ticket.created_at, target["resolution"] * 60 + ticket.resolution_paused_seconds
        )
    responded = Ticket.objects.filter(first_response_at__isnull=False)
    assert not responded.filter(
        response_breached=True, first_response_at__lte=F("response_due_at")
    ).exists()
    assert not responded.filter(
        response_breached=False, first_response_at__gt=F("response_due_at")
    ).exists()
    assert not responded.filter(response_business_seconds__isnull=True).exists()
    resolved = Ticket.objects.filter(resolved_at__isnull=False)
    assert not resolved.filter(resolution_business_seconds__isnull=True).exists()
    assert not resolved.filter(resolved_at__lt=F("created_at")).exists()
    assert not Ticket.objects.filter(status="closed", closed_at__isnull=True).exists()
    assert not Ticket.objects.filter(status="resolved", auto_close_at__isnull=True).exists()


@pytest.mark.django_db
def test_open_tickets_wait_for_their_next_step_and_past_steps_have_fired(loaded):
    generated = datetime.fromisoformat(loaded["generated_at"])
    assert (
        not Ticket.objects.exclude(status__in=OPEN_STATUSES)
        .filter(next_sla_check_at__isnull=False)
        .exists()
    )
    assert not Ticket.objects.filter(next_sla_check_at__lte=generated).exists()
    assert Ticket.objects.filter(next_sla_check_at__gt=generated).exists()
    assert not Escalation.objects.filter(due_at__gt=generated).exists()
    # A running resolution clock past its due time has fired its breach step.
    overdue = Ticket.objects.filter(
        status__in=["new", "assigned", "in_progress"], resolution_due_at__lte=generated
    )
    assert overdue.exists()
    assert not overdue.filter(resolution_breached=False).exists()
    assert not overdue.exclude(
        id__in=Escalation.objects.filter(clock="resolution", step="breach").values("ticket_id")
    ).exists()


@pytest.mark.django_db
def test_some_resolved_tickets_are_rated():
    ratings = TicketRating.objects.all()
    assert ratings.exists()
    assert not ratings.filter(ticket__resolved_at__isnull=True).exists()
    assert not ratings.filter(Q(score__lt=1) | Q(score__gt=5)).exists()
    assert not ratings.exclude(provider_department_id=F("ticket__provider_department_id")).exists()


@pytest.mark.django_db
def test_filing_a_ticket_afterwards_continues_the_sequence():
    it = Department.objects.get(code="IT")
    requester = User.objects.filter(department__code="HR").order_by("id").first()
    service = Service.objects.filter(department=it).order_by("id").first()
    year = datetime.now(SHANGHAI).year
    last = TicketSequence.objects.get(department=it, year=year).last_value
    assert Ticket.objects.filter(reference=f"IT-{year}-{last:06d}").exists()

    ticket = services.file_ticket(requester=requester, service=service, title="新笔记本")

    assert ticket.reference == f"IT-{year}-{last + 1:06d}"
    assert ticket.pk == TICKETS + 1


@pytest.mark.django_db
def test_visibility_selectors_still_apply():
    it = Department.objects.get(code="IT")
    hr = Department.objects.get(code="HR")
    employee = (
        User.objects.filter(department=hr, memberships__role=Membership.Role.MEMBER)
        .annotate(n=Count("requested_tickets"))
        .filter(n__gt=0)
        .first()
    )
    assert set(visible_tickets(employee)) == set(Ticket.objects.filter(requester=employee))
    agent = User.objects.filter(memberships__department=it, memberships__role="agent").first()
    seen = visible_tickets(agent)
    assert seen.filter(provider_department=it).count() == it.provided_tickets.count()
    assert not seen.exclude(Q(provider_department=it) | Q(requester=agent)).exists()
    hr_head = User.objects.get(memberships__department=hr, memberships__role="head")
    assert visible_tickets(hr_head).filter(requester_department=hr).count() == (
        hr.requested_tickets.count()
    )


def test_refuses_a_database_without_bench_in_its_name():
    with pytest.raises(ValueError, match="bench"):
        dataset.check_target("servicedesk", force=False)
    dataset.check_target("servicedesk", force=True)
    dataset.check_target("sd_bench_1m", force=False)


@pytest.mark.django_db
def test_refuses_to_load_over_existing_tickets():
    with pytest.raises(CommandError, match="--reset"):
        call_command("generate_dataset", tickets=10, departments=3, users=9, force=True)


def test_a_references_year_is_the_local_year_at_the_new_years_hour():
    """Shanghai's 2026 begins at 16:00 UTC on 31 December 2025: tickets either side of it in the
    same UTC day are numbered in their own local year."""
    factory = object.__new__(dataset.TicketFactory)  # only its year lookup is asked
    factory.zone, factory.year_cache = SHANGHAI, {}
    for hour, year in ((10, 2025), (15, 2025), (16, 2026), (23, 2026)):
        instant = datetime(2025, 12, 31, hour, 30, tzinfo=ZoneInfo("UTC")).timestamp()
        assert factory._year(instant) == year, hour
