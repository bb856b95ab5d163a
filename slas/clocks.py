"""SLA clocks on tickets: which policy applies, due times, pauses and the next check instant.

Tickets' services call these hooks inside their own transaction (the ticket row is locked);
they only set fields on the ticket object, the caller saves it. All arithmetic is business time
on the stored calendar (never the holiday package at run time).
"""

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from servicedesk.statements import Statement, slot
from tickets.models import OPEN_STATUSES, Service, Status, Ticket

from . import config_cache
from .business_time import (
    BusinessAxis,
    WorkCalendar,
    add_business_seconds,
    business_axis,
    business_seconds_between,
    uncovered_years,
)
from .models import (
    DEFAULT_CALENDAR_NAME,
    Agreement,
    BusinessCalendar,
    CalendarDay,
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
    One query ranks every candidate and reads the winner with its policy and calendar (this runs
    on every filing and promise, where building three ORM queries cost more than running them).
    """
    params = [
        service.department_id,
        service.pk,
        consumer_department_id,
        service.sla_policy_id,
        service.department.default_sla_policy_id,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_RESOLVE_SQL, params)
        row = cursor.fetchone()
    if row is None:
        return None, None
    width = len(_concrete(Agreement))
    policy = _policy_from_row(row[width:])
    if row[0] is None:  # the service's or the department's policy, not an agreement
        return policy, None
    agreement = _instance(Agreement, row[:width])
    agreement.policy = policy
    return policy, agreement


def _concrete(model: type[Model]) -> list[Any]:
    return list(model._meta.concrete_fields)


def _instance(model: type[Model], values: Sequence[Any]) -> Any:
    """A model object from raw column values in `_meta` order (as the ORM would build it)."""
    converted = [
        field.from_db_value(value, None, connection)
        if value is not None and hasattr(field, "from_db_value")
        else value
        for field, value in zip(_concrete(model), values, strict=True)
    ]
    return model.from_db(connection.alias, [f.attname for f in _concrete(model)], converted)


_POLICY_COLUMNS = ", ".join(
    [f"p.{f.column}" for f in _concrete(SlaPolicy)]
    + [f"c.{f.column}" for f in _concrete(BusinessCalendar)]
)


_AGREEMENT_COLUMNS = [f.column for f in _concrete(Agreement)]
# resolve_policy's query: every candidate ranked, the winner read with its policy and calendar.
_RESOLVE_SQL = (
    f"SELECT {', '.join(f'candidate.{c}' for c in _AGREEMENT_COLUMNS)}, {_POLICY_COLUMNS}"  # noqa: S608
    " FROM ("
    # Agreements rank 5 (service and consumer), 4 (service), 3 (consumer), 2 (neither).
    " SELECT 2 + CASE WHEN a.service_id IS NULL THEN 0 ELSE 2 END"
    " + CASE WHEN a.consumer_department_id IS NULL THEN 0 ELSE 1 END AS specificity,"
    f" a.policy_id AS chosen_policy_id, {', '.join(f'a.{c}' for c in _AGREEMENT_COLUMNS)}"
    " FROM slas_agreement a WHERE a.provider_department_id = %s"
    " AND (a.service_id = %s OR a.service_id IS NULL)"
    " AND (a.consumer_department_id = %s OR a.consumer_department_id IS NULL)"
    f" UNION ALL SELECT 1, %s, {', '.join('NULL' for _c in _AGREEMENT_COLUMNS)}"  # the service's
    f" UNION ALL SELECT 0, %s, {', '.join('NULL' for _c in _AGREEMENT_COLUMNS)}"  # the default
    ") candidate JOIN slas_slapolicy p ON p.id = candidate.chosen_policy_id"
    " JOIN slas_businesscalendar c ON c.id = p.calendar_id"
    " ORDER BY candidate.specificity DESC LIMIT 1"
)


def _policy_from_row(values: Sequence[Any]) -> SlaPolicy:
    """A policy with its calendar from the `_POLICY_COLUMNS` of a row."""
    width = len(_concrete(SlaPolicy))
    policy = _instance(SlaPolicy, values[:width])
    policy.calendar = _instance(BusinessCalendar, values[width:])
    return policy


def load_policy(policy_id: int) -> SlaPolicy:
    """The policy with its calendar (one query); SlaPolicy.DoesNotExist if there is none."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_POLICY_COLUMNS} FROM slas_slapolicy p"  # noqa: S608 - column names only
            " JOIN slas_businesscalendar c ON c.id = p.calendar_id WHERE p.id = %s",
            [policy_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise SlaPolicy.DoesNotExist(f"no SLA policy {policy_id}")
    return _policy_from_row(row)


# Calendars built by this process, keyed by everything they are built from as just read (time
# zone, hours, years and every day), so an edited calendar is a new key and is never served
# stale; what the cache saves is the building, and the arithmetic's caches keyed by calendar.
_WORK_CALENDARS: dict[tuple, WorkCalendar] = {}
_WORK_CALENDARS_MAX = 64


def work_calendar(calendar: BusinessCalendar, version: str | None = None) -> WorkCalendar:
    """The stored calendar as plain data for the arithmetic (one query for its days).

    `version`: the SLA configuration token (slas.config_cache) read before `calendar` was: a
    calendar built under the same token is taken from the process's copies, without the query.
    """
    kept = config_cache.get("calendar", calendar.pk, version)
    if kept is not None:
        return kept
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT date, kind FROM slas_calendarday WHERE calendar_id = %s", [calendar.pk]
        )
        days = frozenset(cursor.fetchall())
    key = (
        calendar.timezone,
        json.dumps(calendar.working_hours, sort_keys=True),
        json.dumps(calendar.years, sort_keys=True),
        days,
    )
    cal = _WORK_CALENDARS.get(key)
    if cal is None:
        # Dates come back as `date` (PostgreSQL) or "YYYY-MM-DD" (SQLite): from_spec takes both.
        cal = WorkCalendar.from_spec(
            timezone=calendar.timezone,
            working_hours=calendar.working_hours,
            closed_dates=[day for day, kind in days if kind == CalendarDay.Kind.CLOSED],
            extra_working_dates=[day for day, kind in days if kind != CalendarDay.Kind.CLOSED],
            years=calendar.years,
        )
        if len(_WORK_CALENDARS) >= _WORK_CALENDARS_MAX:
            _WORK_CALENDARS.clear()
        _WORK_CALENDARS[key] = cal
    config_cache.keep("calendar", calendar.pk, version, cal)
    return cal


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
    version = config_cache.version()  # before the policy and calendar rows are read
    # The choice is kept under what it is made from besides the rows config_cache follows
    # (agreements, policies, calendars): the service and its department as the caller has them,
    # so one just edited gets what the query would give it.
    inputs = (
        service.department_id,
        service.pk,
        consumer_department_id,
        service.sla_policy_id,
        service.department.default_sla_policy_id,
    )
    resolved = config_cache.get("resolved policy", inputs, version)
    if resolved is None:
        resolved = resolve_policy(service=service, consumer_department_id=consumer_department_id)
        config_cache.keep("resolved policy", inputs, version, resolved)
    policy, agreement = resolved
    if policy is None:
        return Promise(None, None, None, None, None, None, None)
    response_minutes, resolution_minutes = targets(policy, priority)
    cal = work_calendar(policy.calendar, version)
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
        self._axis: BusinessAxis | None = None

    @property
    def axis(self) -> BusinessAxis | None:
        """The calendar's business-time axis (shared by the process), for many rows at once."""
        if self._axis is None and self.cal is not None:
            self._axis = business_axis(self.cal)
        return self._axis

    @classmethod
    def of(cls, ticket: Ticket, cache: dict[int, "ClockContext"] | None = None) -> "ClockContext":
        """The ticket's context; `cache` (policy id → context) shares loads across tickets."""
        cached = getattr(ticket, "_sla_context", None)
        if cached is not None and getattr(cached.policy, "pk", None) == ticket.sla_policy_id:
            return cached
        context = cls.of_policy(ticket.sla_policy_id, cache)
        ticket._sla_context = context  # type: ignore[attr-defined]
        return context

    @classmethod
    def of_policy(
        cls, policy_id: int | None, cache: dict[int, "ClockContext"] | None = None
    ) -> "ClockContext":
        """The context of a policy id (None: no SLA), through `cache` when given, else the
        process's copies while the SLA configuration is unchanged (slas.config_cache)."""
        context = cache.get(policy_id) if cache is not None and policy_id else None
        if context is None:
            policy = cal = None
            if policy_id:
                version = config_cache.version()  # before the rows are read
                policy = config_cache.get("policy", policy_id, version)
                if policy is None:
                    policy = load_policy(policy_id)
                    config_cache.keep("policy", policy_id, version, policy)
                cal = work_calendar(policy.calendar, version)
            context = cls(policy, cal)
            if cache is not None and policy_id:
                cache[policy_id] = context
        return context


def loaded_contexts(ticket: Ticket) -> dict[int, ClockContext]:
    """The policy and calendar a write already loaded for `ticket`, as a policy id → context
    cache: rendering the ticket just written then loads them no second time."""
    context = getattr(ticket, "_sla_context", None)
    if context is None or getattr(context.policy, "pk", None) != ticket.sla_policy_id:
        return {}
    return {ticket.sla_policy_id: context} if ticket.sla_policy_id else {}


def on_first_response(ticket: Ticket, *, at: datetime, next_check: bool = True) -> None:
    """Stop the response clock. `next_check=False`: the caller sets the next check itself (a
    status change in the same write does), which saves reading the fired steps twice."""
    context = ClockContext.of(ticket)
    if context.cal is None:
        return
    ticket.response_business_seconds = business_seconds_between(context.cal, ticket.created_at, at)
    if ticket.response_due_at and at > ticket.response_due_at:
        ticket.response_breached = True
    if next_check:
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
    return clocks_running(status=ticket.status, first_response_at=ticket.first_response_at)


def clocks_running(*, status: str, first_response_at: datetime | None) -> list[str]:
    """`running_clocks` from a ticket's plain values."""
    clocks = []
    if first_response_at is None and status in OPEN_STATUSES:
        clocks.append(RESPONSE)
    if status in (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS):
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
    until: datetime | None = None,
) -> list[tuple[str, Step, datetime]]:
    """Every (clock, step, instant) of the running clocks not fired yet, in time order.

    `until`: only the steps up to that instant and, of each clock, the first one after it (what
    the sweep fires, and when it must look again). A clock's steps come due in percent order,
    so its later ones are not worked out.
    """
    done = set(fired)
    pending = []
    points = steps(policy)
    for clock in running_clocks(ticket):
        # Steps at the same percent (the breach and a 100 % ladder level) share one instant:
        # the calendar walk is the sweep's main cost per ticket.
        instants: dict[int, datetime | None] = {}
        for step in points:
            if (clock, step.key) in done:
                continue
            if step.at_percent not in instants:
                instants[step.at_percent] = step_instant(
                    ticket, cal, policy, clock, step.at_percent
                )
            instant = instants[step.at_percent]
            if instant is not None:
                pending.append((clock, step, instant))
                if until is not None and instant > until:
                    break
    return sorted(pending, key=lambda item: item[2])


_BEGINNING_OF_TIME = datetime.min.replace(tzinfo=UTC)


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
        fired = _fired_steps().rows(ticket_id=ticket.pk) if ticket.pk else ()
    # Of each clock only its first step not fired (every step comes due after the beginning of
    # time): its later steps come due after it, so none of them can be the next check.
    pending = due_steps(
        ticket, policy=context.policy, cal=context.cal, fired=fired, until=_BEGINNING_OF_TIME
    )
    return pending[0][2] if pending else None


@functools.cache
def _fired_steps() -> Statement:
    """A ticket's fired (clock, step) pairs, compiled once per process: building the query cost
    more than running it, on every transition."""
    return Statement(
        Escalation.objects.filter(ticket_id=slot(0)).values_list("clock", "step"),
        ticket_id=slot(0),
    )


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
    if context.axis is None:
        return None
    now = now or timezone.now()
    return round(context.axis.seconds_between(now, due) / 60)


def remaining_minutes_of(
    *,
    clock: str,
    status: str,
    first_response_at: datetime | None,
    sla_policy_id: int | None,
    due: datetime | None,
    now: datetime,
    cache: dict[int, ClockContext],
) -> int | None:
    """`remaining_minutes` from a ticket's plain values (list rows read without model objects).

    `cache` (policy id → context) loads each policy and calendar once per request; `now` is one
    instant for the whole list."""
    if not sla_policy_id or due is None:
        return None
    if clock not in clocks_running(status=status, first_response_at=first_response_at):
        return None
    axis = ClockContext.of_policy(sla_policy_id, cache).axis
    if axis is None:
        return None
    return round(axis.seconds_between(now, due) / 60)


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
    from .figures import tickets_touched

    tickets_touched([ticket])  # its SLA figures changed (slas.figures)
