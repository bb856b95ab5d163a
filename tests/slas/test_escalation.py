"""SLA escalation (DESIGN §2 "SLAs", Escalation): the sweep fires each due step once, records an
internal event, sets the breach flags and moves `next_sla_check_at`; delivery notifies in-app and
by email once; the outbox re-sends what never went out; resolved tickets close themselves.

Every expected instant is worked out by hand from the calendar in tests/slas/conftest.py:
Mon–Fri 09:00–12:00 and 13:00–18:00 Asia/Shanghai (8 business hours a day) with China's published
2025 schedule (国办发明电〔2024〕12号): 1–8 Oct closed (国庆节、中秋节), Sun 28 Sep and Sat 11 Oct
worked (调休). The policy ("normal" priority): respond within 60 business minutes, resolve within
480; warning at 75 % and breach at 100 % to the assignee, the department head at 100 %, the head
of the parent department at 150 %.
"""

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection

from departments.models import Membership
from slas import clocks, escalation
from slas.models import Escalation
from tickets import services
from tickets.models import Notification, Status, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
SLA_EVENT_KINDS = (
    TicketEvent.Kind.SLA_WARNING,
    TicketEvent.Kind.SLA_BREACHED,
    TicketEvent.Kind.ESCALATED,
)
HEAD_STEP = "ladder:100:department_head"
PARENT_STEP = "ladder:150:parent_department_head"


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def act(when: datetime, fn: Callable[..., Any], **kwargs: Any) -> Any:
    with time_machine.travel(when, tick=False):
        return fn(**kwargs)


def sweep(now: datetime, enqueue: Callable[[int], None] | None = None) -> int:
    """One run of the sweep at `now` (deliveries are the business of other tests)."""
    with time_machine.travel(now, tick=False):
        return escalation.escalate_due_tickets(now=now, enqueue=enqueue or (lambda _id: None))


def fired_steps(ticket: Ticket) -> list[tuple[str, str, datetime]]:
    """(clock, step, due instant) of every escalation of the ticket, in time order."""
    rows = Escalation.objects.filter(ticket=ticket).order_by("due_at", "id")
    return list(rows.values_list("clock", "step", "due_at"))


def next_check(ticket: Ticket) -> datetime | None:
    ticket.refresh_from_db()
    return ticket.next_sla_check_at


@pytest.fixture
def escalated_ticket(company, ladder_policy, parent_head, file_ticket_at) -> Ticket:
    """Filed Tue 30 Sep 16:00, assigned to `agent` at 16:05; at 17:30 its response clock has
    passed every step: warning 16:45, breach and head 17:00, head above 17:30."""
    ticket = file_ticket_at(sh(2025, 9, 30, 16, 0))
    act(
        sh(2025, 9, 30, 16, 5),
        services.update_ticket,
        ticket=ticket,
        actor=company.it_head,
        assignee=company.agent,
    )
    assert sweep(sh(2025, 9, 30, 17, 30)) == 4
    ticket.refresh_from_db()
    return ticket


# -- The sweep ---------------------------------------------------------------------------------


def test_each_step_fires_once_at_its_business_instant_across_the_national_day_holiday(
    company, ladder_policy, parent_head, file_ticket_at
):
    # Filed Tue 30 Sep 16:00, the last working afternoon before 国庆节.
    # Response clock (60 min): warning 75 % = 45 min → 16:45; breach and head 100 % → 17:00;
    # head above 150 % = 90 min → 17:30.
    # Resolution clock (480 min): 30 Sep 16–18 gives 2 h, 1–8 Oct are closed, then Thu 9 Oct.
    # Warning 75 % = 6 h → 9 Oct 09–12 (5 h) + 13–14 → 9 Oct 14:00. Breach 8 h → 9 Oct 16:00.
    # Head above 150 % = 12 h → 9 Oct ends at 10 h, Fri 10 Oct 09–11 → 10 Oct 11:00.
    ticket = file_ticket_at(sh(2025, 9, 30, 16, 0))
    assert ticket.response_due_at == sh(2025, 9, 30, 17, 0)
    assert ticket.resolution_due_at == sh(2025, 10, 9, 16, 0)
    assert next_check(ticket) == sh(2025, 9, 30, 16, 45)

    assert sweep(sh(2025, 9, 30, 16, 44, 59)) == 0
    assert fired_steps(ticket) == []

    assert sweep(sh(2025, 9, 30, 16, 45)) == 1
    assert fired_steps(ticket) == [("response", "warning", sh(2025, 9, 30, 16, 45))]
    assert next_check(ticket) == sh(2025, 9, 30, 17, 0)
    assert (ticket.response_breached, ticket.resolution_breached) == (False, False)
    # The same instant again (a retried or overlapping sweep): nothing fires twice.
    assert sweep(sh(2025, 9, 30, 16, 45)) == 0
    assert sweep(sh(2025, 9, 30, 16, 59, 59)) == 0

    assert sweep(sh(2025, 9, 30, 17, 0)) == 2
    assert fired_steps(ticket)[1:] == [
        ("response", "breach", sh(2025, 9, 30, 17, 0)),
        ("response", HEAD_STEP, sh(2025, 9, 30, 17, 0)),
    ]
    assert next_check(ticket) == sh(2025, 9, 30, 17, 30)
    assert (ticket.response_breached, ticket.resolution_breached) == (True, False)

    assert sweep(sh(2025, 9, 30, 17, 30)) == 1
    assert fired_steps(ticket)[3:] == [("response", PARENT_STEP, sh(2025, 9, 30, 17, 30))]
    assert next_check(ticket) == sh(2025, 10, 9, 14, 0)

    # Nothing comes due during the holiday nor on 9 Oct before 14:00.
    assert sweep(sh(2025, 10, 3, 10, 0)) == 0
    assert sweep(sh(2025, 10, 9, 13, 59, 59)) == 0
    assert sweep(sh(2025, 10, 9, 14, 0)) == 1
    assert fired_steps(ticket)[4:] == [("resolution", "warning", sh(2025, 10, 9, 14, 0))]
    assert next_check(ticket) == sh(2025, 10, 9, 16, 0)
    assert ticket.resolution_breached is False

    # A late sweep (workers down overnight) fires every step that has passed, each once.
    assert sweep(sh(2025, 10, 10, 11, 0)) == 3
    assert fired_steps(ticket)[5:] == [
        ("resolution", "breach", sh(2025, 10, 9, 16, 0)),
        ("resolution", HEAD_STEP, sh(2025, 10, 9, 16, 0)),
        ("resolution", PARENT_STEP, sh(2025, 10, 10, 11, 0)),
    ]
    late = Escalation.objects.filter(ticket=ticket, clock="resolution").exclude(step="warning")
    assert set(late.values_list("fired_at", flat=True)) == {sh(2025, 10, 10, 11, 0)}
    # Every step of both clocks has fired: the sweep has nothing left to look at.
    assert next_check(ticket) is None
    assert (ticket.response_breached, ticket.resolution_breached) == (True, True)
    assert sweep(sh(2025, 12, 31, 17, 0)) == 0
    assert Escalation.objects.filter(ticket=ticket).count() == 8

    events = TicketEvent.objects.filter(ticket=ticket, kind__in=SLA_EVENT_KINDS)
    assert list(events.values_list("kind", "from_value", "to_value", "internal", "at")) == [
        ("sla_warning", "response", "75%", True, sh(2025, 9, 30, 16, 45)),
        ("sla_breached", "response", "100%", True, sh(2025, 9, 30, 17, 0)),
        ("escalated", "response", "department_head", True, sh(2025, 9, 30, 17, 0)),
        ("escalated", "response", "parent_department_head", True, sh(2025, 9, 30, 17, 30)),
        ("sla_warning", "resolution", "75%", True, sh(2025, 10, 9, 14, 0)),
        ("sla_breached", "resolution", "100%", True, sh(2025, 10, 10, 11, 0)),
        ("escalated", "resolution", "department_head", True, sh(2025, 10, 10, 11, 0)),
        ("escalated", "resolution", "parent_department_head", True, sh(2025, 10, 10, 11, 0)),
    ]


def test_requester_never_sees_the_sla_events_in_the_timeline(company, escalated_ticket, api):
    url = f"/api/v1/tickets/{escalated_ticket.pk}/events/"
    as_requester = api(company.requester).get(url)
    assert as_requester.status_code == 200
    requester_kinds = [event["kind"] for event in as_requester.json()["results"]]
    assert "created" in requester_kinds
    assert not set(requester_kinds) & set(SLA_EVENT_KINDS)

    as_agent = api(company.agent).get(url)
    assert as_agent.status_code == 200
    sla_events = [e for e in as_agent.json()["results"] if e["kind"] in SLA_EVENT_KINDS]
    assert [(e["kind"], e["internal"]) for e in sla_events] == [
        ("sla_warning", True),
        ("sla_breached", True),
        ("escalated", True),
        ("escalated", True),
    ]


def test_breached_filter_lists_the_breached_ticket_only(
    company, escalated_ticket, file_ticket_at, api
):
    # Filed at 17:10: its response warning is due at 17:55, after the last sweep (17:30).
    on_time = file_ticket_at(sh(2025, 9, 30, 17, 10), title="键盘失灵")
    assert sweep(sh(2025, 9, 30, 17, 30)) == 0
    client = api(company.it_head)
    breached = client.get("/api/v1/tickets/?breached=true")
    assert [t["reference"] for t in breached.json()["results"]] == [escalated_ticket.reference]
    assert breached.json()["results"][0]["response_breached"] is True
    assert breached.json()["results"][0]["resolution_breached"] is False
    not_breached = client.get("/api/v1/tickets/?breached=false")
    assert [t["reference"] for t in not_breached.json()["results"]] == [on_time.reference]


def test_first_response_stops_the_response_clock(
    company, ladder_policy, parent_head, file_ticket_at
):
    # Filed Mon 22 Sep 09:00: respond by 10:00 (warning 09:45, head above 10:30); resolution
    # warning at 6 h → 09–12 and 13–16 → 16:00.
    ticket = file_ticket_at(sh(2025, 9, 22, 9, 0))
    act(
        sh(2025, 9, 22, 9, 30),
        services.add_comment,
        ticket=ticket,
        author=company.agent,
        body="收到，马上处理",
    )
    assert next_check(ticket) == sh(2025, 9, 22, 16, 0)
    assert sweep(sh(2025, 9, 22, 10, 30)) == 0
    assert sweep(sh(2025, 9, 22, 16, 0)) == 1
    assert fired_steps(ticket) == [("resolution", "warning", sh(2025, 9, 22, 16, 0))]
    ticket.refresh_from_db()
    assert ticket.response_breached is False


def test_first_response_after_the_warning_prevents_the_breach(
    company, ladder_policy, parent_head, file_ticket_at
):
    ticket = file_ticket_at(sh(2025, 9, 22, 9, 0))
    assert sweep(sh(2025, 9, 22, 9, 45)) == 1  # response warning at 45 min
    act(
        sh(2025, 9, 22, 9, 50),
        services.transition_ticket,
        ticket=ticket,
        actor=company.agent,
        status=Status.IN_PROGRESS,
    )
    assert next_check(ticket) == sh(2025, 9, 22, 16, 0)
    assert sweep(sh(2025, 9, 22, 10, 30)) == 0  # past the breach (10:00) and 150 % (10:30)
    assert fired_steps(ticket) == [("response", "warning", sh(2025, 9, 22, 9, 45))]
    ticket.refresh_from_db()
    assert ticket.response_breached is False
    assert ticket.response_business_seconds == 50 * 60


def test_waiting_pauses_the_resolution_steps_and_moves_them_by_the_waited_business_time(
    company, ladder_policy, parent_head, file_ticket_at
):
    # Filed Mon 22 Sep 09:00; unpaused, the resolution warning would be Mon 16:00, the breach
    # Mon 18:00 and the head above (12 h) Tue 23 Sep 14:00.
    ticket = file_ticket_at(sh(2025, 9, 22, 9, 0))
    assert ticket.resolution_due_at == sh(2025, 9, 22, 18, 0)
    for when, status in ((sh(2025, 9, 22, 9, 30), "in_progress"), (sh(2025, 9, 22, 11), "waiting")):
        act(when, services.transition_ticket, ticket=ticket, actor=company.agent, status=status)
    # Waiting on the requester: no clock runs (the response clock stopped at 09:30).
    assert next_check(ticket) is None
    for when in (sh(2025, 9, 22, 16, 0), sh(2025, 9, 22, 18, 0), sh(2025, 9, 23, 10, 0)):
        assert sweep(when) == 0
    assert fired_steps(ticket) == []

    # The requester answers Tue 23 Sep 10:30. Waited: Mon 11–12 (1 h) + 13–18 (5 h) + Tue
    # 09–10:30 (1.5 h) = 7.5 business hours, so every resolution step moves 7.5 h later:
    # warning Mon 16:00 → Mon 16–18 (2 h), Tue 09–12 (3 h), 13–15:30 → Tue 15:30;
    # breach Mon 18:00 → Tue 17:30; head above Tue 14:00 → Tue 14–18 (4 h), Wed 09–12 (3 h),
    # 13–13:30 → Wed 24 Sep 13:30.
    act(
        sh(2025, 9, 23, 10, 30),
        services.add_comment,
        ticket=ticket,
        author=company.requester,
        body="型号是 14 寸",
    )
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    assert ticket.resolution_paused_seconds == 7.5 * 3600
    assert ticket.resolution_due_at == sh(2025, 9, 23, 17, 30)
    assert next_check(ticket) == sh(2025, 9, 23, 15, 30)

    assert sweep(sh(2025, 9, 23, 15, 29, 59)) == 0
    assert sweep(sh(2025, 9, 23, 15, 30)) == 1
    assert sweep(sh(2025, 9, 23, 17, 30)) == 2
    assert sweep(sh(2025, 9, 24, 13, 29, 59)) == 0
    assert sweep(sh(2025, 9, 24, 13, 30)) == 1
    assert fired_steps(ticket) == [
        ("resolution", "warning", sh(2025, 9, 23, 15, 30)),
        ("resolution", "breach", sh(2025, 9, 23, 17, 30)),
        ("resolution", HEAD_STEP, sh(2025, 9, 23, 17, 30)),
        ("resolution", PARENT_STEP, sh(2025, 9, 24, 13, 30)),
    ]
    assert next_check(ticket) is None


def test_resolving_stops_every_clock(company, ladder_policy, parent_head, file_ticket_at):
    ticket = file_ticket_at(sh(2025, 9, 22, 9, 0))
    assert sweep(sh(2025, 9, 22, 9, 45)) == 1
    act(
        sh(2025, 9, 22, 9, 50),
        services.transition_ticket,
        ticket=ticket,
        actor=company.agent,
        status=Status.RESOLVED,
    )
    assert next_check(ticket) is None
    assert sweep(sh(2025, 9, 24, 18, 0)) == 0  # after every step of both clocks
    assert [step for _clock, step, _due in fired_steps(ticket)] == ["warning"]
    ticket.refresh_from_db()
    assert (ticket.response_breached, ticket.resolution_breached) == (False, False)


def test_sweep_with_nothing_due_issues_at_most_two_queries(
    company, ladder_policy, file_ticket_at, django_assert_max_num_queries
):
    for hour in (9, 10, 11):
        file_ticket_at(sh(2025, 9, 22, hour, 0))  # first check at 09:45 at the earliest
    with django_assert_max_num_queries(2):
        assert sweep(sh(2025, 9, 22, 9, 44)) == 0


def test_sweep_enqueues_one_delivery_per_new_escalation_after_commit(
    company, ladder_policy, parent_head, file_ticket_at, django_capture_on_commit_callbacks
):
    ticket = file_ticket_at(sh(2025, 9, 30, 16, 0))
    enqueued: list[int] = []
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep(sh(2025, 9, 30, 17, 0), enqueue=enqueued.append) == 3
    assert sorted(enqueued) == sorted(
        Escalation.objects.filter(ticket=ticket).values_list("pk", flat=True)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep(sh(2025, 9, 30, 17, 0), enqueue=enqueued.append) == 0
    assert len(enqueued) == 3


def test_one_sweep_writes_each_tickets_own_next_check_flags_and_update_time(
    company, ladder_policy, parent_head, file_ticket_at
):
    # Filed Fri 19 Sep 16:00: respond by 17:00 (warning 16:45, head above at 90 min → 17:30);
    # resolution warning at 6 h → Fri 16–18 (2 h) and Mon 22 Sep 09–12 (3 h), 13–14 → 14:00.
    overdue = file_ticket_at(sh(2025, 9, 19, 16, 0), title="打印机卡纸")
    # Filed Mon 22 Sep 09:00: response warning at 09:45, breach at 10:00.
    warned = file_ticket_at(sh(2025, 9, 22, 9, 0), title="显示器坏了")
    # Filed 09:30 (warning at 10:15) but checked early: nothing to fire, the check moves on.
    early = file_ticket_at(sh(2025, 9, 22, 9, 30), title="鼠标失灵")
    Ticket.objects.filter(pk=early.pk).update(next_sla_check_at=sh(2025, 9, 22, 9, 40))
    # Filed 09:35, its policy since taken away: no clock left to check.
    unbound = file_ticket_at(sh(2025, 9, 22, 9, 35), title="耳机没声音")
    Ticket.objects.filter(pk=unbound.pk).update(
        sla_policy=None, next_sla_check_at=sh(2025, 9, 22, 9, 40)
    )

    assert sweep(sh(2025, 9, 22, 9, 50)) == 5

    written = {
        ticket.pk: (
            ticket.next_sla_check_at,
            ticket.response_breached,
            ticket.resolution_breached,
            ticket.updated_at,
        )
        for ticket in Ticket.objects.all()
    }
    assert written == {
        overdue.pk: (sh(2025, 9, 22, 14, 0), True, False, sh(2025, 9, 22, 9, 50)),
        warned.pk: (sh(2025, 9, 22, 10, 0), False, False, sh(2025, 9, 22, 9, 50)),
        early.pk: (sh(2025, 9, 22, 10, 15), False, False, sh(2025, 9, 22, 9, 30)),
        unbound.pk: (None, False, False, sh(2025, 9, 22, 9, 35)),
    }
    assert fired_steps(overdue) == [
        ("response", "warning", sh(2025, 9, 19, 16, 45)),
        ("response", "breach", sh(2025, 9, 19, 17, 0)),
        ("response", HEAD_STEP, sh(2025, 9, 19, 17, 0)),
        ("response", PARENT_STEP, sh(2025, 9, 19, 17, 30)),
    ]
    assert fired_steps(warned) == [("response", "warning", sh(2025, 9, 22, 9, 45))]
    assert fired_steps(early) == fired_steps(unbound) == []


def test_due_steps_until_an_instant_stop_each_clock_at_its_first_step_after_it(
    company, ladder_policy, file_ticket_at
):
    # Filed Tue 30 Sep 16:00 (the instants of the first test): response warning 16:45, breach
    # and head 17:00, head above 17:30; resolution warning 9 Oct 14:00, breach and head 16:00,
    # head above 10 Oct 11:00.
    ticket = file_ticket_at(sh(2025, 9, 30, 16, 0))
    context = clocks.ClockContext.of(ticket)
    assert context.policy is not None and context.cal is not None

    def due(until: datetime | None) -> list[tuple[str, str, datetime]]:
        steps = clocks.due_steps(
            ticket, policy=context.policy, cal=context.cal, fired=(), until=until
        )
        return [(clock, step.key, instant) for clock, step, instant in steps]

    every_step = [
        ("response", "warning", sh(2025, 9, 30, 16, 45)),
        ("response", "breach", sh(2025, 9, 30, 17, 0)),
        ("response", HEAD_STEP, sh(2025, 9, 30, 17, 0)),
        ("response", PARENT_STEP, sh(2025, 9, 30, 17, 30)),
        ("resolution", "warning", sh(2025, 10, 9, 14, 0)),
        ("resolution", "breach", sh(2025, 10, 9, 16, 0)),
        ("resolution", HEAD_STEP, sh(2025, 10, 9, 16, 0)),
        ("resolution", PARENT_STEP, sh(2025, 10, 10, 11, 0)),
    ]
    assert due(None) == every_step
    assert due(sh(2025, 9, 30, 17, 0)) == every_step[:5]
    assert due(sh(2025, 9, 30, 16, 0)) == [every_step[0], every_step[4]]
    assert due(sh(2025, 10, 9, 16, 0)) == every_step


def test_sweep_statements_stay_the_same_for_2_or_8_due_tickets(
    company, ladder_policy, file_ticket_at
):
    # Filed 09:00 to 09:09: response warnings at 09:45 to 09:54, the first breach at 10:00.
    for minute in range(10):
        file_ticket_at(sh(2025, 9, 22, 9, minute))
    two: list[str] = []
    eight: list[str] = []

    def statements(into: list[str]) -> Callable[..., Any]:
        def record(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
            if not sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):
                # As sent, with its placeholders; the page's ids listed in IN (...) aside.
                into.append(re.sub(r"IN \((%s, )*%s\)", "IN (...)", sql))
            return execute(sql, *args)

        return record

    with connection.execute_wrapper(statements(two)):
        assert sweep(sh(2025, 9, 22, 9, 46)) == 2
    with connection.execute_wrapper(statements(eight)):
        assert sweep(sh(2025, 9, 22, 9, 54)) == 8
    # One page: the same few statements, each as long whatever the number of tickets.
    assert eight == two
    # The page, the tickets locked, their fired steps, the SLA configuration's version, the
    # policy and its calendar, the steps, the events, the tickets' new values, the next page
    # (none).
    assert len(eight) <= 10


def test_a_ticket_that_fails_is_pushed_back_and_the_rest_of_its_page_still_fires(
    company, ladder_policy, file_ticket_at
):
    first = file_ticket_at(sh(2025, 9, 22, 9, 0))  # response warning at 09:45
    broken = file_ticket_at(sh(2025, 9, 22, 9, 1))  # 09:46
    last = file_ticket_at(sh(2025, 9, 22, 9, 2))  # 09:47
    # Corrupt data: no due time can be worked out from a paused time that is not a number.
    Ticket.objects.filter(pk=broken.pk).update(resolution_paused_seconds=float("nan"))

    assert sweep(sh(2025, 9, 22, 9, 50)) == 2

    assert fired_steps(first) == [("response", "warning", sh(2025, 9, 22, 9, 45))]
    assert fired_steps(last) == [("response", "warning", sh(2025, 9, 22, 9, 47))]
    assert fired_steps(broken) == []
    assert next_check(broken) == sh(2025, 9, 22, 9, 50) + escalation.RETRY_DELAY
    assert next_check(first) == sh(2025, 9, 22, 10, 0)
    events = TicketEvent.objects.filter(kind__in=SLA_EVENT_KINDS)
    assert sorted(events.values_list("ticket_id", flat=True)) == [first.pk, last.pk]


# -- Delivery ----------------------------------------------------------------------------------


def test_delivery_notifies_assignee_head_and_parent_head_once_in_app_and_by_email(
    company, escalated_ticket, parent_head
):
    steps = Escalation.objects.filter(ticket=escalated_ticket).order_by("due_at", "id")
    expected = {
        "warning": company.agent,
        "breach": company.agent,
        HEAD_STEP: company.it_head,
        PARENT_STEP: parent_head,
    }
    assert [e.step for e in steps] == list(expected)
    for step in steps:
        assert escalation.deliver_escalation(step.pk) == 1

    url = f"/tickets/{escalated_ticket.reference}/"
    notifications = Notification.objects.filter(ticket=escalated_ticket).order_by("id")
    assert [(n.user, n.kind, n.source_key, n.url) for n in notifications] == [
        (expected[e.step], f"sla_{e.step.split(':')[0]}", f"escalation:{e.pk}", url) for e in steps
    ]
    assert [m.to for m in mail.outbox] == [[expected[e.step].email] for e in steps]
    for message in mail.outbox:
        assert message.subject.startswith(f"[{escalated_ticket.reference}]")
        assert url in message.body
    assert all(e.notified_at is not None for e in Escalation.objects.filter(pk__in=steps))

    # A retried delivery (the task ran twice): nobody hears twice.
    for step in steps:
        assert escalation.deliver_escalation(step.pk) == 0
    assert Notification.objects.filter(ticket=escalated_ticket).count() == 4
    assert len(mail.outbox) == 4


def test_without_an_assignee_the_provider_heads_are_notified(
    company, ladder_policy, parent_head, file_ticket_at
):
    ticket = file_ticket_at(sh(2025, 9, 30, 16, 0))
    assert sweep(sh(2025, 9, 30, 17, 30)) == 4
    for step in Escalation.objects.filter(ticket=ticket):
        escalation.deliver_escalation(step.pk)
    by_user = Notification.objects.filter(ticket=ticket).values_list("user", "kind")
    assert sorted(by_user) == sorted(
        [
            (company.it_head.pk, "sla_warning"),  # assignee's step, nobody assigned
            (company.it_head.pk, "sla_breach"),
            (company.it_head.pk, "sla_ladder"),
            (parent_head.pk, "sla_ladder"),
        ]
    )
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [company.it_head.email] * 3 + [parent_head.email]
    )


def test_without_a_head_above_the_last_level_goes_to_the_provider_heads(
    company, ladder_policy, parent_head, file_ticket_at
):
    Membership.objects.filter(user=parent_head).update(role=Membership.Role.MEMBER)
    ticket = file_ticket_at(sh(2025, 9, 30, 16, 0))
    assert sweep(sh(2025, 9, 30, 17, 30)) == 4
    top = Escalation.objects.get(ticket=ticket, step=PARENT_STEP)
    assert escalation.deliver_escalation(top.pk) == 1
    assert list(Notification.objects.values_list("user", flat=True)) == [company.it_head.pk]
    assert [m.to for m in mail.outbox] == [[company.it_head.email]]


def test_requeue_picks_up_only_undelivered_escalations_past_their_next_attempt(
    company, ladder_policy, parent_head, file_ticket_at
):
    ticket = file_ticket_at(sh(2025, 9, 30, 16, 0))
    fired_at = sh(2025, 9, 30, 17, 0)
    assert sweep(fired_at) == 3  # warning, breach, head; their delivery is due by 17:02
    by_step = {e.step: e for e in Escalation.objects.filter(ticket=ticket)}
    escalation.deliver_escalation(by_step["warning"].pk)  # this one went out
    undelivered = sorted([by_step["breach"].pk, by_step[HEAD_STEP].pk])

    requeued: list[int] = []
    assert (
        escalation.requeue_undelivered(
            now=fired_at + timedelta(seconds=119), enqueue=requeued.append
        )
        == 0
    )
    assert (
        escalation.requeue_undelivered(now=fired_at + timedelta(minutes=2), enqueue=requeued.append)
        == 2
    )
    assert sorted(requeued) == undelivered
    # Enqueued again: the next attempt is pushed back, so the next sweep does not pile on.
    assert (
        escalation.requeue_undelivered(now=fired_at + timedelta(minutes=2), enqueue=requeued.append)
        == 0
    )
    assert (
        escalation.requeue_undelivered(now=fired_at + timedelta(minutes=7), enqueue=requeued.append)
        == 2
    )

    for escalation_id in requeued:
        escalation.deliver_escalation(escalation_id)
    assert escalation.requeue_undelivered(now=sh(2025, 12, 31, 9, 0), enqueue=requeued.append) == 0
    assert Notification.objects.filter(ticket=ticket).count() == 3
    assert len(mail.outbox) == 3


# -- Auto-close --------------------------------------------------------------------------------


def test_resolved_ticket_closes_at_the_end_of_the_third_working_day(
    company, ladder_policy, file_ticket_at, settings
):
    settings.TICKET_AUTO_CLOSE_BUSINESS_DAYS = 3
    ticket = file_ticket_at(sh(2025, 9, 30, 9, 0))  # resolve by 30 Sep 18:00
    act(
        sh(2025, 9, 30, 10, 0),
        services.transition_ticket,
        ticket=ticket,
        actor=company.agent,
        status=Status.RESOLVED,
    )
    # Working days after Tue 30 Sep: 1–8 Oct are closed; Thu 9 Oct (1), Fri 10 Oct (2) and the
    # make-up Saturday 11 Oct (3), which ends at 18:00.
    ticket.refresh_from_db()
    assert ticket.auto_close_at == sh(2025, 10, 11, 18, 0)
    assert ticket.resolution_business_seconds == 3600  # 09:00–10:00
    # Resolved a day later (Fri 10 Oct): 11 Oct (1), Mon 13 (2), Tue 14 Oct (3) → 14 Oct 18:00.
    later = file_ticket_at(sh(2025, 10, 10, 9, 0), title="邮箱满了")
    act(
        sh(2025, 10, 10, 10, 0),
        services.transition_ticket,
        ticket=later,
        actor=company.agent,
        status=Status.RESOLVED,
    )
    later.refresh_from_db()
    assert later.auto_close_at == sh(2025, 10, 14, 18, 0)

    assert act(sh(2025, 10, 11, 17, 59, 59), escalation.auto_close_resolved) == 0
    assert act(sh(2025, 10, 11, 18, 0), escalation.auto_close_resolved) == 1
    ticket.refresh_from_db()
    later.refresh_from_db()
    assert (ticket.status, ticket.closed_at, ticket.auto_close_at) == (
        Status.CLOSED,
        sh(2025, 10, 11, 18, 0),
        None,
    )
    assert later.status == Status.RESOLVED
    # Closing ends the clock where resolving stopped it: the business time to resolution and the
    # due time stay as they were (the SLA metrics read them), the resolved days are no pause.
    assert ticket.resolution_business_seconds == 3600
    assert ticket.resolution_due_at == sh(2025, 9, 30, 18, 0)
    assert ticket.resolution_paused_seconds == 0
    closing = TicketEvent.objects.filter(ticket=ticket, kind="status_changed").last()
    assert (closing.from_value, closing.to_value, closing.actor) == ("resolved", "closed", None)
    assert act(sh(2025, 10, 11, 18, 0), escalation.auto_close_resolved) == 0
