"""SLA clocks on tickets: which policy applies, due times, pauses and the next check instant.

Tickets' services call these hooks inside their own transaction (the ticket row is locked);
they only set fields on the ticket object, the caller saves it. All arithmetic is business time
on the stored calendar (never the holiday package at run time).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tickets.models import OPEN_STATUSES, Service, Status, Ticket

from .business_time import (
    WorkCalendar,
    add_business_seconds,
    business_seconds_between,
    uncovered_years,
)
from .models import (
    DEFAULT_CALENDAR_NAME,
    Agreement,
    BusinessCalendar,
    Escalation,
    SlaPolicy,
    default_working_hours,
)

# Every ticket field the clocks own.
SLA_FIELDS = [
    "sla_policy",
    "response_due_at",
    "resolution_due_at",
    "response_breached",
    "resolution_breached",
    "next_sla_check_at",
    "resolution_paused_seconds",
    "clock_paused_at",
    "response_business_seconds",
    "resolution_business_seconds",
    "auto_close_at",
    "sla_warnings",
]

RESPONSE = Escalation.Clock.RESPONSE
RESOLUTION = Escalation.Clock.RESOLUTION


@dataclass(frozen=True)
class Step:
    """A point on a clock: the warning, the breach (100 %) or a ladder level."""

    key: str
    at_percent: int
    notify: str


@dataclass
class Promise:
    """The service standard a requester gets before filing (and the ticket gets at filing)."""

    policy: SlaPolicy | None
    agreement: Agreement | None
    calendar: BusinessCalendar | None
    response_target_minutes: int | None
    resolution_target_minutes: int | None
    response_due_at: datetime | None
    resolution_due_at: datetime | None
    warnings: list[dict[str, str]] = field(default_factory=list)
    work_calendar: WorkCalendar | None = None


# -- Policy and calendar --------------------------------------------------------------------


def resolve_policy(
    *, service: Service, consumer_department_id: int | None
) -> tuple[SlaPolicy | None, Agreement | None]:
    """The most specific agreement wins, then the service's policy, then the provider's default.

    Specificity: service and consumer > service (all consumers) > consumer (all services) > all.
    """
    candidates = (
        Agreement.objects.filter(provider_department_id=service.department_id)
        .filter(Q(service_id=service.pk) | Q(service__isnull=True))
        .filter(
            Q(consumer_department_id=consumer_department_id) | Q(consumer_department__isnull=True)
        )
        .select_related("policy__calendar")
    )
    best = max(
        candidates,
        key=lambda a: (a.service_id is not None, a.consumer_department_id is not None),
        default=None,
    )
    if best is not None:
        return best.policy, best
    if service.sla_policy_id:
        return SlaPolicy.objects.select_related("calendar").get(pk=service.sla_policy_id), None
    default_id = service.department.default_sla_policy_id
    if default_id:
        return SlaPolicy.objects.select_related("calendar").get(pk=default_id), None
    return None, None


def work_calendar(calendar: BusinessCalendar) -> WorkCalendar:
    """The stored calendar as plain data for the arithmetic (one query for its days)."""
    closed: set[date] = set()
    working: set[date] = set()
    for day, kind in calendar.days.values_list("date", "kind"):
        (closed if kind == "closed" else working).add(day)
    return WorkCalendar.from_spec(
        timezone=calendar.timezone,
        working_hours=calendar.working_hours,
        closed_dates=closed,
        extra_working_dates=working,
        years=calendar.years,
    )


def targets(policy: SlaPolicy, priority: str) -> tuple[int | None, int | None]:
    target = (policy.targets or {}).get(priority) or {}
    return target.get("response"), target.get("resolution")


def steps(policy: SlaPolicy) -> list[Step]:
    """Every point of a clock in order: warning, breach, then the escalation ladder."""
    points: list[Step] = []
    if 0 < policy.warning_percent < 100:
        points.append(Step("warning", policy.warning_percent, "assignee"))
    points.append(Step("breach", 100, "assignee"))
    for level in policy.ladder or []:
        percent, notify = int(level["at_percent"]), str(level["notify"])
        points.append(Step(f"ladder:{percent}:{notify}", percent, notify))
    return sorted(points, key=lambda s: (s.at_percent, s.key))


def _year_warnings(
    calendar: BusinessCalendar, cal: WorkCalendar, start: datetime, end: datetime | None
) -> list[dict[str, str]]:
    if end is None:
        return []
    return [
        {
            "code": "calendar_year_unknown",
            "detail": _(
                "The business calendar “%(calendar)s” has no holidays for %(year)s; due times in "
                "that year count the weekly hours only."
            )
            % {"calendar": calendar.name, "year": year},
        }
        for year in uncovered_years(cal, start, end)
    ]


def promise_for(
    *, service: Service, priority: str, at: datetime, consumer_department_id: int | None
) -> Promise:
    policy, agreement = resolve_policy(
        service=service, consumer_department_id=consumer_department_id
    )
    if policy is None:
        return Promise(None, None, None, None, None, None, None)
    response_minutes, resolution_minutes = targets(policy, priority)
    cal = work_calendar(policy.calendar)
    response_due = (
        add_business_seconds(cal, at, response_minutes * 60) if response_minutes else None
    )
    resolution_due = (
        add_business_seconds(cal, at, resolution_minutes * 60) if resolution_minutes else None
    )
    latest = max((d for d in (response_due, resolution_due) if d), default=None)
    return Promise(
        policy=policy,
        agreement=agreement,
        calendar=policy.calendar,
        response_target_minutes=response_minutes,
        resolution_target_minutes=resolution_minutes,
        response_due_at=response_due,
        resolution_due_at=resolution_due,
        warnings=_year_warnings(policy.calendar, cal, at, latest),
        work_calendar=cal,
    )


# -- Hooks called by tickets.services --------------------------------------------------------


def start_clocks(ticket: Ticket, *, at: datetime) -> Promise:
    """At filing: the promise the requester saw becomes the ticket's due times."""
    promise = promise_for(
        service=ticket.service,
        priority=ticket.priority,
        at=at,
        consumer_department_id=ticket.requester_department_id,
    )
    ticket.sla_policy = promise.policy
    ticket.response_due_at = promise.response_due_at
    ticket.resolution_due_at = promise.resolution_due_at
    ticket.sla_warnings = promise.warnings
    ticket._sla_context = ClockContext(promise.policy, promise.work_calendar)  # type: ignore[attr-defined]
    ticket.next_sla_check_at = next_check_at(ticket, fired=())
    return promise


class ClockContext:
    """The ticket's policy and calendar, loaded once and kept on the ticket object."""

    def __init__(self, policy: SlaPolicy | None, cal: WorkCalendar | None):
        self.policy = policy
        self.cal = cal

    @classmethod
    def of(cls, ticket: Ticket, cache: dict[int, "ClockContext"] | None = None) -> "ClockContext":
        """The ticket's context; `cache` (policy id → context) shares loads across tickets."""
        cached = getattr(ticket, "_sla_context", None)
        if cached is not None and getattr(cached.policy, "pk", None) == ticket.sla_policy_id:
            return cached
        context = cache.get(ticket.sla_policy_id) if cache is not None else None
        if context is None:
            policy = (
                SlaPolicy.objects.select_related("calendar").get(pk=ticket.sla_policy_id)
                if ticket.sla_policy_id
                else None
            )
            context = cls(policy, work_calendar(policy.calendar) if policy else None)
            if cache is not None and ticket.sla_policy_id:
                cache[ticket.sla_policy_id] = context
        ticket._sla_context = context  # type: ignore[attr-defined]
        return context


def on_first_response(ticket: Ticket, *, at: datetime) -> None:
    context = ClockContext.of(ticket)
    if context.cal is None:
        return
    ticket.response_business_seconds = business_seconds_between(context.cal, ticket.created_at, at)
    if ticket.response_due_at and at > ticket.response_due_at:
        ticket.response_breached = True
    ticket.next_sla_check_at = next_check_at(ticket, context=context)


def on_status_change(ticket: Ticket, *, source: str, target: str, at: datetime) -> None:
    """Pause the resolution clock while waiting or resolved, resume it, stop it at the end."""
    context = ClockContext.of(ticket)
    if context.cal is None:
        # No SLA: no clocks, but a resolved ticket still closes itself after N business days.
        if target == Status.RESOLVED:
            ticket.auto_close_at = business_days_later(
                _fallback_calendar(), at, settings.TICKET_AUTO_CLOSE_BUSINESS_DAYS
            )
        else:
            ticket.auto_close_at = None
        return
    # Closing a resolved ticket ends the clock where resolving stopped it: nothing resumes, and
    # the business time to resolution and the due time stay as measured (the metrics read them).
    closing = source == Status.RESOLVED and target == Status.CLOSED
    resumed = (
        source in (Status.WAITING, Status.RESOLVED)
        and ticket.clock_paused_at is not None
        and not closing
    )
    if resumed:
        ticket.resolution_paused_seconds += business_seconds_between(
            context.cal, ticket.clock_paused_at, at
        )
        ticket.clock_paused_at = None
    if target in (Status.WAITING, Status.RESOLVED):
        ticket.clock_paused_at = at
    if target == Status.RESOLVED:
        ticket.resolution_business_seconds = (
            business_seconds_between(context.cal, ticket.created_at, at)
            - ticket.resolution_paused_seconds
        )
        if ticket.resolution_due_at and at > ticket.resolution_due_at:
            ticket.resolution_breached = True
        ticket.auto_close_at = business_days_later(
            context.cal, at, settings.TICKET_AUTO_CLOSE_BUSINESS_DAYS
        )
    elif source == Status.RESOLVED and not closing:  # reopened
        ticket.auto_close_at = None
        ticket.resolution_business_seconds = None
    if target in (Status.CLOSED, Status.CANCELLED):
        ticket.auto_close_at = None
        ticket.clock_paused_at = None
    if resumed:
        _recompute_due(ticket, context)
    ticket.next_sla_check_at = next_check_at(ticket, context=context)


def on_priority_change(ticket: Ticket) -> None:
    context = ClockContext.of(ticket)
    if context.cal is None:
        return
    _recompute_due(ticket, context)
    ticket.next_sla_check_at = next_check_at(ticket, context=context)


def recompute(ticket: Ticket) -> None:
    """Re-derive due times and the next check from the ticket's policy (policy edited)."""
    on_priority_change(ticket)


def _recompute_due(ticket: Ticket, context: ClockContext) -> None:
    assert context.policy is not None and context.cal is not None
    response_minutes, resolution_minutes = targets(context.policy, ticket.priority)
    if ticket.first_response_at is None:
        ticket.response_due_at = (
            add_business_seconds(context.cal, ticket.created_at, response_minutes * 60)
            if response_minutes
            else None
        )
    ticket.resolution_due_at = (
        add_business_seconds(
            context.cal,
            ticket.created_at,
            resolution_minutes * 60 + ticket.resolution_paused_seconds,
        )
        if resolution_minutes
        else None
    )
    latest = max((d for d in (ticket.response_due_at, ticket.resolution_due_at) if d), default=None)
    ticket.sla_warnings = _year_warnings(
        context.policy.calendar, context.cal, ticket.created_at, latest
    )


# -- Where each clock stands ----------------------------------------------------------------


def running_clocks(ticket: Ticket) -> list[str]:
    clocks = []
    if ticket.first_response_at is None and ticket.status in OPEN_STATUSES:
        clocks.append(RESPONSE)
    if ticket.status in (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS):
        clocks.append(RESOLUTION)
    return clocks


def step_instant(
    ticket: Ticket, cal: WorkCalendar, policy: SlaPolicy, clock: str, percent: float
) -> datetime | None:
    response_minutes, resolution_minutes = targets(policy, ticket.priority)
    if clock == RESPONSE:
        if not response_minutes:
            return None
        return add_business_seconds(cal, ticket.created_at, response_minutes * 60 * percent / 100)
    if not resolution_minutes:
        return None
    return add_business_seconds(
        cal,
        ticket.created_at,
        resolution_minutes * 60 * percent / 100 + ticket.resolution_paused_seconds,
    )


def due_steps(
    ticket: Ticket,
    *,
    policy: SlaPolicy,
    cal: WorkCalendar,
    fired: Iterable[tuple[str, str]],
) -> list[tuple[str, Step, datetime]]:
    """Every (clock, step, instant) of the running clocks not fired yet, in time order."""
    done = set(fired)
    pending = []
    for clock in running_clocks(ticket):
        for step in steps(policy):
            if (clock, step.key) in done:
                continue
            instant = step_instant(ticket, cal, policy, clock, step.at_percent)
            if instant is not None:
                pending.append((clock, step, instant))
    return sorted(pending, key=lambda item: item[2])


def next_check_at(
    ticket: Ticket,
    *,
    fired: Iterable[tuple[str, str]] | None = None,
    context: ClockContext | None = None,
) -> datetime | None:
    """When the sweep must look at this ticket again (None: no clock has anything left)."""
    if not ticket.sla_policy_id and ticket.sla_policy is None:
        return None
    context = context or ClockContext.of(ticket)
    if context.policy is None or context.cal is None:
        return None
    if fired is None:
        fired = (
            Escalation.objects.filter(ticket_id=ticket.pk).values_list("clock", "step")
            if ticket.pk
            else ()
        )
    pending = due_steps(ticket, policy=context.policy, cal=context.cal, fired=fired)
    return pending[0][2] if pending else None


def business_days_later(cal: WorkCalendar, at: datetime, days: int) -> datetime:
    """The end of the `days`-th working day after the day of `at` (local calendar)."""
    zone = ZoneInfo(cal.timezone)
    day = at.astimezone(zone).date()
    counted = 0
    for _offset in range(3 * 366):
        day += timedelta(days=1)
        intervals = cal.intervals_on(day)
        if intervals:
            counted += 1
            if counted >= days:
                end = intervals[-1][1]
                return datetime.combine(day, end, tzinfo=zone)
    raise ValueError("the calendar has no working days in the next three years")


def _fallback_calendar() -> WorkCalendar:
    """The company's standard calendar if there is one, else the default weekly hours."""
    calendar = BusinessCalendar.objects.filter(name=DEFAULT_CALENDAR_NAME).first()
    if calendar is not None:
        return work_calendar(calendar)
    return WorkCalendar.from_spec(
        timezone=settings.TIME_ZONE, working_hours=default_working_hours()
    )


def remaining_minutes(
    ticket: Ticket, clock: str, *, now: datetime | None = None, cache: dict | None = None
) -> int | None:
    """Business minutes left on a running clock (negative when overdue), else None."""
    if clock not in running_clocks(ticket) or not ticket.sla_policy_id:
        return None
    due = ticket.response_due_at if clock == RESPONSE else ticket.resolution_due_at
    if due is None:
        return None
    context = ClockContext.of(ticket, cache)
    if context.cal is None:
        return None
    now = now or timezone.now()
    return round(business_seconds_between(context.cal, now, due) / 60)


def replay(ticket: Ticket, *, now: datetime | None = None) -> None:
    """Recompute a ticket's SLA fields from its timeline (imported or back-dated history).

    Saves the ticket. Steps already past on a running clock are left to the next sweep.
    """
    from tickets.models import TicketEvent

    final_status, final_first_response = ticket.status, ticket.first_response_at
    ticket.status, ticket.first_response_at = Status.NEW, None
    ticket.resolution_paused_seconds = 0
    ticket.clock_paused_at = None
    ticket.response_business_seconds = ticket.resolution_business_seconds = None
    ticket.response_breached = ticket.resolution_breached = False
    ticket.auto_close_at = None
    start_clocks(ticket, at=ticket.created_at)
    events = ticket.events.filter(
        kind__in=(TicketEvent.Kind.STATUS_CHANGED, TicketEvent.Kind.FIRST_RESPONSE)
    ).order_by("at", "pk")
    for event in events:
        if event.kind == TicketEvent.Kind.FIRST_RESPONSE:
            ticket.first_response_at = event.at
            on_first_response(ticket, at=event.at)
        else:
            ticket.status = event.to_value
            on_status_change(ticket, source=event.from_value, target=event.to_value, at=event.at)
    ticket.status, ticket.first_response_at = final_status, final_first_response
    now = now or timezone.now()
    if (
        RESPONSE in running_clocks(ticket)
        and ticket.response_due_at
        and ticket.response_due_at < now
    ):
        ticket.response_breached = True
    if (
        RESOLUTION in running_clocks(ticket)
        and ticket.resolution_due_at
        and ticket.resolution_due_at < now
    ):
        ticket.resolution_breached = True
    ticket.next_sla_check_at = next_check_at(ticket)
    ticket.save(update_fields=SLA_FIELDS)
