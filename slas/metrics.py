"""SLA metrics: read queries behind `GET /api/v1/metrics/sla/` and the heads' dashboards.

Every figure is an SQL aggregate over the tickets *created* in the period [from, to), within the
scope (provider department, consumer = requester department, service, agent = assignee):

- **response measured**: tickets with a `response_due_at` that got a first response
  (`first_response_at` set) or are flagged `response_breached`. Tickets without a due time (no
  SLA) or still waiting for a first response inside their target are not measured.
- **response met**: measured tickets whose `first_response_at <= response_due_at`.
- **response breached**: measured tickets with `response_breached = True`.
- **response compliance %** = met / measured x 100 (null when nothing is measured).
- **resolution**: the same with `resolved_at`, `resolution_due_at`, `resolution_breached`. A
  reopened ticket has no `resolved_at` until it is resolved again, so it is measured again only
  then (or once it breaches).
- **median / p90 minutes**: continuous percentiles (linear interpolation between the two nearest
  ranks, PostgreSQL's `percentile_cont`) of `response_business_seconds / 60` and
  `resolution_business_seconds / 60` over the tickets that have that value (business time stored
  at the moment of truth; resolution time excludes pauses). Tickets without an SLA calendar
  have no business time and are left out.
- **backlog**: open tickets (new, assigned, in progress, waiting) *now*, in the scope, whatever
  the period, by status and by priority.
- **reopen rate %** = tickets with at least one `reopened` event / tickets resolved at least once
  (`resolved_at` set, or a `resolved` or `reopened` event) x 100.

Percentiles use `percentile_cont` on PostgreSQL. The embedded SQLite mode computes the same exact
values by fetching only the rank(s) needed: OFFSET/LIMIT for the totals, a window function
(row number within each group) for the groups.

Whole departments (one provider or one consumer department, no service or agent filter, no
grouping or by week or month) are read from the daily figures of `slas.figures` once they are
built: the same counts, backlog from the open-ticket ledger, at a cost that does not grow with the
ticket table; their median and p90 are interpolated within 1 % buckets (< 1 s below 100 s).
"""

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connections
from django.db.models import (
    Aggregate,
    Count,
    Exists,
    Expression,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Window,
)
from django.db.models.functions import Abs, Least, RowNumber, TruncMonth, TruncWeek
from django.utils.translation import gettext_lazy as _

from departments.models import User, person_name
from departments.selectors import headed_department_ids, provider_department_ids
from tickets.models import OPEN_STATUSES, Priority, Ticket, TicketEvent

from . import figures

DEFAULT_PERIOD = timedelta(days=30)
MAX_PERIOD_YEARS = 3
PERCENTILES = {"median": 0.5, "p90": 0.9}
GROUP_BY_CHOICES = (
    "consumer_department",
    "provider_department",
    "service",
    "agent",
    "priority",
    "month",
    "week",
)


class PercentileCont(Aggregate):
    """PostgreSQL's continuous percentile of an ordered set (linear interpolation)."""

    function = "percentile_cont"
    name = "PercentileCont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: str | Expression, *, fraction: float, **extra: Any):
        fraction = float(fraction)
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must lie in [0, 1]")
        # The fraction is a float literal in the SQL text, never user input.
        super().__init__(expression, fraction=repr(fraction), **extra)


@dataclass(frozen=True)
class Clock:
    """The columns one SLA clock (response or resolution) is measured with."""

    name: str
    due: str
    done: str
    breached: str
    seconds: str

    @property
    def measured(self) -> Q:
        return Q(**{f"{self.due}__isnull": False}) & (
            Q(**{f"{self.done}__isnull": False}) | Q(**{self.breached: True})
        )

    @property
    def met(self) -> Q:
        return self.measured & Q(**{f"{self.done}__lte": F(self.due)})

    @property
    def breach(self) -> Q:
        return self.measured & Q(**{self.breached: True})


RESPONSE = Clock(
    "response",
    due="response_due_at",
    done="first_response_at",
    breached="response_breached",
    seconds="response_business_seconds",
)
RESOLUTION = Clock(
    "resolution",
    due="resolution_due_at",
    done="resolved_at",
    breached="resolution_breached",
    seconds="resolution_business_seconds",
)
CLOCKS = (RESPONSE, RESOLUTION)


@dataclass(frozen=True)
class MetricsScope:
    """Which tickets the figures are about; None means any."""

    provider_department_id: int | None = None
    consumer_department_id: int | None = None
    service_id: int | None = None
    agent_id: int | None = None

    def condition(self) -> Q:
        condition = Q()
        for column, value in (
            ("provider_department_id", self.provider_department_id),
            ("requester_department_id", self.consumer_department_id),
            ("service_id", self.service_id),
            ("assignee_id", self.agent_id),
        ):
            if value is not None:
                condition &= Q(**{column: value})
        return condition


@dataclass
class ClockFigures:
    measured: int
    met: int
    breached: int
    compliance_percent: float | None
    median_minutes: float | None
    p90_minutes: float | None


@dataclass
class GroupFigures:
    key: int | str | None
    label: str
    tickets: int
    response: ClockFigures
    resolution: ClockFigures


@dataclass
class SlaMetrics:
    period_from: datetime
    period_to: datetime
    scope: MetricsScope
    group_by: str | None
    tickets: int
    response: ClockFigures
    resolution: ClockFigures
    backlog_by_status: dict[str, int]
    backlog_by_priority: dict[str, int]
    reopen_rate_percent: float | None
    groups: list[GroupFigures] = field(default_factory=list)
    # Tickets per [low, high) business seconds to resolve, when asked (`resolution_buckets`).
    resolution_counts: list[int] | None = None
    # Open tickets now per assignee, most first, when asked (`assignee_backlog`): rows of
    # `assignee_id`, `assignee__username`, `assignee__first_name`, `assignee__last_name`,
    # `open_tickets`.
    backlog_by_assignee: list[dict[str, Any]] | None = None


# --- who may read ----------------------------------------------------------------------------


def may_read_any_metrics(user: User) -> bool:
    """Admins, and anyone who is agent or head somewhere; plain employees read no metrics."""
    return bool(user.is_staff) or bool(provider_department_ids(user) or headed_department_ids(user))


def may_read_metrics(user: User, scope: MetricsScope) -> bool:
    """Admins read anything. Agents and heads read their department as provider; heads also read
    their department as consumer (how others serve it)."""
    if user.is_staff:
        return True
    provider, consumer = scope.provider_department_id, scope.consumer_department_id
    if provider is not None and provider in provider_department_ids(user):
        return True
    return consumer is not None and consumer in headed_department_ids(user)


# --- the period --------------------------------------------------------------------------------


def latest_allowed_end(start: datetime) -> datetime:
    """`start` plus MAX_PERIOD_YEARS calendar years (29 February falls back to the 28th)."""
    year = start.year + MAX_PERIOD_YEARS
    try:
        return start.replace(year=year)
    except ValueError:
        return start.replace(year=year, day=28)


# --- the figures -------------------------------------------------------------------------------


def percentiles_in_sql(queryset: QuerySet[Ticket]) -> bool:
    return connections[queryset.db].vendor == "postgresql"


def _clock_aggregates(clock: Clock, *, in_sql_percentiles: bool) -> dict[str, Aggregate]:
    aggregates: dict[str, Aggregate] = {
        f"{clock.name}_measured": Count("pk", filter=clock.measured),
        f"{clock.name}_met": Count("pk", filter=clock.met),
        f"{clock.name}_breached": Count("pk", filter=clock.breach),
        f"{clock.name}_timed": Count(clock.seconds),  # non-null values: the percentile sample
    }
    if in_sql_percentiles:
        for label, fraction in PERCENTILES.items():
            aggregates[f"{clock.name}_{label}"] = PercentileCont(clock.seconds, fraction=fraction)
    return aggregates


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 2)


def _clock_figures(row: dict[str, Any], clock: Clock) -> ClockFigures:
    measured, met = row[f"{clock.name}_measured"], row[f"{clock.name}_met"]
    return ClockFigures(
        measured=measured,
        met=met,
        breached=row[f"{clock.name}_breached"],
        compliance_percent=_percent(met, measured),
        median_minutes=_minutes(row.get(f"{clock.name}_median")),
        p90_minutes=_minutes(row.get(f"{clock.name}_p90")),
    )


def _interpolate(fraction: float, size: int, value_at: Callable[[int], float]) -> float:
    """percentile_cont over `size` sorted values, reading the (at most two) ranks it needs."""
    rank = fraction * (size - 1)
    lower, upper = math.floor(rank), math.ceil(rank)
    low = value_at(lower)
    return low + (value_at(upper) - low) * (rank - lower)


def _exact_percentiles(
    tickets: QuerySet[Ticket], clock: Clock, size: int
) -> dict[str, float | None]:
    """Percentiles without percentile_cont: one query per percentile fetching only the one or
    two sorted values at its ranks (OFFSET/LIMIT), the sample size being known already."""
    if size == 0:
        return dict.fromkeys(PERCENTILES)
    ordered = (
        tickets.filter(**{f"{clock.seconds}__isnull": False})
        .order_by(clock.seconds)
        .values_list(clock.seconds, flat=True)
    )
    out: dict[str, float | None] = {}
    for label, fraction in PERCENTILES.items():
        rank = fraction * (size - 1)
        lower = math.floor(rank)
        values = list(ordered[lower : math.ceil(rank) + 1])
        out[label] = _interpolate(fraction, size, lambda r, lower=lower, v=values: v[r - lower])
    return out


def _exact_group_percentiles(
    tickets: QuerySet[Ticket], clock: Clock, key: Expression
) -> dict[Any, dict[str, float]]:
    """Per-group percentiles without percentile_cont, in one query: number the values within
    each group (a window function) and keep only the rows near the ranks the percentiles need."""
    near_ranks = [
        Abs(F("metric_position") - fraction * (F("metric_size") - 1.0))
        for fraction in PERCENTILES.values()
    ]
    rows = (
        tickets.filter(**{f"{clock.seconds}__isnull": False})
        .annotate(
            metric_key=key,
            metric_position=Window(RowNumber(), partition_by=[key], order_by=F(clock.seconds).asc())
            - 1,
            metric_size=Window(Count("pk"), partition_by=[key]),
        )
        .annotate(metric_distance=Least(*near_ranks) if len(near_ranks) > 1 else near_ranks[0])
        # Below 1.5 rather than 1: a rank computed in SQL floating point may differ by an ulp.
        .filter(metric_distance__lt=1.5)
        .values_list("metric_key", "metric_position", "metric_size", clock.seconds)
    )
    picked: dict[Any, dict[int, float]] = defaultdict(dict)
    sizes: dict[Any, int] = {}
    for group_key, position, size, value in rows:
        picked[group_key][position] = value
        sizes[group_key] = size
    return {
        group_key: {
            label: _interpolate(fraction, sizes[group_key], values.__getitem__)
            for label, fraction in PERCENTILES.items()
        }
        for group_key, values in picked.items()
    }


def reopened_ever() -> Exists:
    return Exists(TicketEvent.objects.filter(ticket=OuterRef("pk"), kind=TicketEvent.Kind.REOPENED))


def resolved_once() -> Q:
    return Q(resolved_at__isnull=False) | Q(
        Exists(
            TicketEvent.objects.filter(
                ticket=OuterRef("pk"),
                kind__in=(TicketEvent.Kind.RESOLVED, TicketEvent.Kind.REOPENED),
            )
        )
    )


@dataclass(frozen=True)
class _Grouping:
    key: Callable[[], Expression]
    labels: dict[str, str]  # extra values read beside the key to name the group
    label: Callable[[Any, dict[str, Any]], str]
    output_key: Callable[[Any], int | str | None] = lambda key: key
    sort: Callable[["GroupFigures"], Any] = lambda group: (group.key is None, group.label)


def _local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _named(none_label: str, column: str) -> Callable[[Any, dict[str, Any]], str]:
    return lambda key, values: str(none_label) if key is None else values[column]


def _agent_label(key: Any, values: dict[str, Any]) -> str:
    if key is None:
        return str(_("unassigned"))
    return person_name(
        values["agent_first_name"], values["agent_last_name"], values["agent_username"]
    )


def _week_key(start: datetime | date) -> str:
    year, week, _weekday = start.isocalendar()
    return f"{year}-W{week:02d}"


_PRIORITY_ORDER = {value: index for index, value in enumerate(Priority.values)}

GROUPINGS: dict[str, _Grouping] = {
    "consumer_department": _Grouping(
        key=lambda: F("requester_department_id"),
        labels={"label_name": "requester_department__name"},
        label=_named(_("no department"), "label_name"),
    ),
    "provider_department": _Grouping(
        key=lambda: F("provider_department_id"),
        labels={"label_name": "provider_department__name"},
        label=_named(_("no department"), "label_name"),
    ),
    "service": _Grouping(
        key=lambda: F("service_id"),
        labels={"label_name": "service__name"},
        label=_named(_("no service"), "label_name"),
    ),
    "agent": _Grouping(
        key=lambda: F("assignee_id"),
        labels={
            "agent_username": "assignee__username",
            "agent_first_name": "assignee__first_name",
            "agent_last_name": "assignee__last_name",
        },
        label=_agent_label,
    ),
    "priority": _Grouping(
        key=lambda: F("priority"),
        labels={},
        label=lambda key, values: str(Priority(key).label),
        sort=lambda group: _PRIORITY_ORDER.get(group.key, len(_PRIORITY_ORDER)),
    ),
    "month": _Grouping(
        key=lambda: TruncMonth("created_at", tzinfo=_local_zone()),
        labels={},
        label=lambda key, values: key.strftime("%Y-%m"),
        output_key=lambda key: key.strftime("%Y-%m"),
        sort=lambda group: group.key,
    ),
    "week": _Grouping(
        key=lambda: TruncWeek("created_at", tzinfo=_local_zone()),
        labels={},
        # Key: the ISO week; label: the Monday it starts on (local time).
        label=lambda key, values: key.date().isoformat(),
        output_key=_week_key,
        sort=lambda group: group.label,
    ),
}


def _groups(
    tickets: QuerySet[Ticket], group_by: str, *, in_sql_percentiles: bool, percentiles: bool
) -> list[GroupFigures]:
    grouping = GROUPINGS[group_by]
    aggregates: dict[str, Aggregate] = {"tickets": Count("pk")}
    for clock in CLOCKS:
        aggregates |= _clock_aggregates(
            clock, in_sql_percentiles=in_sql_percentiles and percentiles
        )
    rows = tickets.values(
        group_key=grouping.key(), **{name: F(path) for name, path in grouping.labels.items()}
    ).annotate(**aggregates)
    rows = list(rows.order_by())  # one row per group: the loop below is over groups
    if percentiles and not in_sql_percentiles:
        for clock in CLOCKS:
            by_group = _exact_group_percentiles(tickets, clock, grouping.key())
            for row in rows:
                for label, seconds in by_group.get(row["group_key"], {}).items():
                    row[f"{clock.name}_{label}"] = seconds
    groups = [
        GroupFigures(
            key=grouping.output_key(row["group_key"]) if row["group_key"] is not None else None,
            label=grouping.label(row["group_key"], row),
            tickets=row["tickets"],
            response=_clock_figures(row, RESPONSE),
            resolution=_clock_figures(row, RESOLUTION),
        )
        for row in rows
    ]
    return sorted(groups, key=grouping.sort)


def _backlog(scope: MetricsScope) -> tuple[dict[str, int], dict[str, int]]:
    counts = Ticket.objects.filter(scope.condition(), status__in=OPEN_STATUSES).aggregate(
        **{f"status_{status}": Count("pk", filter=Q(status=status)) for status in OPEN_STATUSES},
        **{f"priority_{p}": Count("pk", filter=Q(priority=p)) for p in Priority.values},
    )
    by_status = {str(status): counts[f"status_{status}"] for status in OPEN_STATUSES}
    by_priority = {p: counts[f"priority_{p}"] for p in Priority.values}
    return by_status, by_priority


def _assignee_backlog(scope: MetricsScope) -> list[dict[str, Any]]:
    """Open tickets now per assignee of the scope's tickets, most first (one grouped query)."""
    return list(
        Ticket.objects.filter(scope.condition(), status__in=OPEN_STATUSES)
        .values("assignee_id", "assignee__username", "assignee__first_name", "assignee__last_name")
        .annotate(open_tickets=Count("pk"))
        .order_by("-open_tickets", "assignee__username")
    )


def _backlog_from_figures(
    open_counts: dict[tuple[str, str], int],
) -> tuple[dict[str, int], dict[str, int]]:
    by_status = dict.fromkeys(map(str, OPEN_STATUSES), 0)
    by_priority = dict.fromkeys(Priority.values, 0)
    for (status, priority), count in open_counts.items():
        by_status[status] += count
        by_priority[priority] += count
    return by_status, by_priority


def _seconds_counts(
    tickets: QuerySet[Ticket], clock: Clock, buckets: Sequence[tuple[float | None, float | None]]
) -> list[int]:
    """Tickets per [low, high) business seconds of the clock, in one aggregate query."""
    aggregates = {}
    for index, (low, high) in enumerate(buckets):
        condition = Q(**{f"{clock.seconds}__isnull": False})
        if low is not None:
            condition &= Q(**{f"{clock.seconds}__gte": low})
        if high is not None:
            condition &= Q(**{f"{clock.seconds}__lt": high})
        aggregates[f"bucket_{index}"] = Count("pk", filter=condition)
    counts = tickets.aggregate(**aggregates)
    return [counts[f"bucket_{index}"] for index in range(len(buckets))]


def figures_side(scope: MetricsScope) -> str | None:
    """The side of `slas.figures` serving this scope: a whole provider or consumer department."""
    if scope.service_id is not None or scope.agent_id is not None:
        return None
    provider, consumer = scope.provider_department_id, scope.consumer_department_id
    if provider is not None and consumer is None:
        return figures.PROVIDER
    if consumer is not None and provider is None:
        return figures.CONSUMER
    return None


def _tally_figures(tally: "figures.Tally", name: str, *, percentiles: bool) -> ClockFigures:
    clock = tally.clocks[name]
    seconds = clock.percentiles() if percentiles else dict.fromkeys(PERCENTILES)
    return ClockFigures(
        measured=clock.measured,
        met=clock.met,
        breached=clock.breached,
        compliance_percent=_percent(clock.met, clock.measured),
        median_minutes=_minutes(seconds["median"]),
        p90_minutes=_minutes(seconds["p90"]),
    )


def department_sla_metrics(
    *,
    department_id: int,
    sides: Sequence[str],
    period_from: datetime,
    period_to: datetime,
    group_by: str | None,
    group_percentiles: bool = True,
    resolution_buckets: Sequence[tuple[float | None, float | None]] | None = None,
    assignee_backlog: Sequence[str] = (),
) -> dict[str, SlaMetrics]:
    """`sla_metrics` of the whole department as each of `sides` (`figures.PROVIDER`,
    `figures.CONSUMER`) from the daily figures, all sides from the same few queries
    (`figures.department_tallies`). The figures must be built (`figures.ready()`); `group_by`
    one of `figures.GROUP_STARTS`; `assignee_backlog` the sides whose `backlog_by_assignee` is
    asked."""
    tallies = figures.department_tallies(
        department_id=department_id,
        sides=sides,
        period_from=period_from,
        period_to=period_to,
        group_by=group_by,
        group_percentiles=group_percentiles,
        by_assignee=assignee_backlog,
    )
    reports = {}
    for side in sides:
        scope = (
            MetricsScope(provider_department_id=department_id)
            if side == figures.PROVIDER
            else MetricsScope(consumer_department_id=department_id)
        )
        reports[side] = _metrics_of_tallies(
            tallies[side],
            scope=scope,
            period_from=period_from,
            period_to=period_to,
            group_by=group_by,
            group_percentiles=group_percentiles,
            resolution_buckets=resolution_buckets,
        )
    return reports


def _metrics_of_tallies(
    tallies: "figures.PeriodTallies",
    *,
    scope: MetricsScope,
    period_from: datetime,
    period_to: datetime,
    group_by: str | None,
    group_percentiles: bool,
    resolution_buckets: Sequence[tuple[float | None, float | None]] | None,
) -> SlaMetrics:
    total = tallies.total
    groups = []
    if group_by:
        grouping = GROUPINGS[group_by]
        for start, tally in tallies.groups.items():
            if not tally.tickets:
                continue
            # The same key as the SQL truncation's: local midnight of the group's first day.
            key = datetime.combine(start, time.min, tzinfo=_local_zone())
            groups.append(
                GroupFigures(
                    key=grouping.output_key(key),
                    label=grouping.label(key, {}),
                    tickets=tally.tickets,
                    response=_tally_figures(tally, "response", percentiles=group_percentiles),
                    resolution=_tally_figures(tally, "resolution", percentiles=group_percentiles),
                )
            )
        groups.sort(key=grouping.sort)
    by_status, by_priority = _backlog_from_figures(tallies.open_counts)
    return SlaMetrics(
        period_from=period_from,
        period_to=period_to,
        scope=scope,
        group_by=group_by,
        tickets=total.tickets,
        response=_tally_figures(total, "response", percentiles=True),
        resolution=_tally_figures(total, "resolution", percentiles=True),
        backlog_by_status=by_status,
        backlog_by_priority=by_priority,
        reopen_rate_percent=_percent(total.reopened, total.resolved_once),
        groups=groups,
        resolution_counts=(
            None
            if resolution_buckets is None
            else [
                total.clocks["resolution"].count_between(low, high)
                for low, high in resolution_buckets
            ]
        ),
        backlog_by_assignee=tallies.open_by_assignee,
    )


def sla_metrics(
    *,
    scope: MetricsScope,
    period_from: datetime,
    period_to: datetime,
    group_by: str | None = None,
    in_sql_percentiles: bool | None = None,
    use_figures: bool | None = None,
    group_percentiles: bool = True,
    resolution_buckets: Sequence[tuple[float | None, float | None]] | None = None,
    assignee_backlog: bool = False,
) -> SlaMetrics:
    """The SLA figures of the scope's tickets created in [period_from, period_to).

    From the daily figures (`slas.figures`) when they serve the scope and grouping and are built
    (`use_figures`: None = ask `figures.ready()`, one query; False = compute from the tickets):
    a handful of queries whose cost does not grow with the table. Otherwise from the tickets:
    one query for the totals, one for the backlog, one for the groups; on SQLite (no
    percentile_cont) up to four more for the totals' percentiles and two for the groups'.
    `group_percentiles=False` leaves the groups' median and p90 out (None). `resolution_buckets`
    adds `resolution_counts` (one more query from the tickets; bounds must be bucket edges of
    `slas.figures`). `assignee_backlog` adds `backlog_by_assignee` (from the figures: within the
    backlog's query; from the tickets: one more). Access is the caller's business
    (`may_read_metrics`).
    """
    side = figures_side(scope)
    if side is not None and group_by in figures.GROUP_STARTS:
        if use_figures is None:
            use_figures = figures.ready()
        if use_figures:
            department_id = (
                scope.provider_department_id
                if side == figures.PROVIDER
                else scope.consumer_department_id
            )
            assert department_id is not None
            return department_sla_metrics(
                department_id=department_id,
                sides=(side,),
                period_from=period_from,
                period_to=period_to,
                group_by=group_by,
                group_percentiles=group_percentiles,
                resolution_buckets=resolution_buckets,
                assignee_backlog=(side,) if assignee_backlog else (),
            )[side]
    tickets = Ticket.objects.filter(
        scope.condition(), created_at__gte=period_from, created_at__lt=period_to
    )
    if in_sql_percentiles is None:
        in_sql_percentiles = percentiles_in_sql(tickets)

    aggregates: dict[str, Aggregate] = {
        "tickets": Count("pk"),
        "reopened": Count("pk", filter=Q(reopened_ever())),
        "resolved_once": Count("pk", filter=resolved_once()),
    }
    for clock in CLOCKS:
        aggregates |= _clock_aggregates(clock, in_sql_percentiles=in_sql_percentiles)
    totals = tickets.aggregate(**aggregates)
    if not in_sql_percentiles:
        for clock in CLOCKS:
            for label, seconds in _exact_percentiles(
                tickets, clock, totals[f"{clock.name}_timed"]
            ).items():
                totals[f"{clock.name}_{label}"] = seconds

    by_status, by_priority = _backlog(scope)
    return SlaMetrics(
        period_from=period_from,
        period_to=period_to,
        scope=scope,
        group_by=group_by,
        tickets=totals["tickets"],
        response=_clock_figures(totals, RESPONSE),
        resolution=_clock_figures(totals, RESOLUTION),
        backlog_by_status=by_status,
        backlog_by_priority=by_priority,
        reopen_rate_percent=_percent(totals["reopened"], totals["resolved_once"]),
        groups=(
            _groups(
                tickets,
                group_by,
                in_sql_percentiles=in_sql_percentiles,
                percentiles=group_percentiles,
            )
            if group_by
            else []
        ),
        resolution_counts=(
            None
            if resolution_buckets is None
            else _seconds_counts(tickets, RESOLUTION, resolution_buckets)
        ),
        backlog_by_assignee=_assignee_backlog(scope) if assignee_backlog else None,
    )
