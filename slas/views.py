"""Department-head pages: the SLA dashboard and the internal service map (DESIGN §3 "Pages").

Figures come from `slas.metrics`: the dashboard's from the daily figures and open-ticket counts
of `slas.figures` once built (both sides from the same few queries, at a cost that does not grow
with the ticket table, and only the ledger's while nothing changed), else SQL aggregates over
the tickets, the agent workload with the backlog; the few extra queries here (breaches, map
edges) are one each, so a page costs the same number of queries whatever the number of tickets.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from html import escape
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.urls.resolvers import RFC3986_SUBDELIMS
from django.utils import dateformat, formats, timezone
from django.utils.dateparse import parse_date
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from departments.models import Department, User, person_name
from departments.selectors import active_departments, headed_department_ids
from feedback.rating_views import dashboard_panels
from feedback.views import dashboard_servqual
from servicedesk.statements import fetch, numbered_values
from tickets.models import Priority, Status, Ticket
from tickets.selectors import visibility_key, visible_tickets

from . import charts, figures, metrics
from .models import Agreement

PERIODS = {"30d": 30, "90d": 90, "365d": 365}
DEFAULT_PERIOD = "30d"
RECENT_LIMIT = 20
URL_PLACEHOLDER = "REFERENCE"  # a reference's place in the ticket page's reversed address
# The columns the breaches table shows of a ticket (`_breach_rows`).
BREACH_FIELDS = (
    "reference",
    "title",
    "response_breached",
    "resolution_breached",
    "created_at",
    "provider_department__name",
    "requester_department__name",
)

# Business time: one business day counts as 8 business hours here.
HOUR = 3600
DAY = 8 * HOUR
RESOLVE_BUCKETS = (
    ("lt_1h", gettext_lazy("< 1 h"), None, HOUR),
    ("h1_4", gettext_lazy("1–4 h"), HOUR, 4 * HOUR),
    ("h4_8", gettext_lazy("4–8 h"), 4 * HOUR, DAY),
    ("d1_2", gettext_lazy("1–2 d"), DAY, 2 * DAY),
    ("d2_5", gettext_lazy("2–5 d"), 2 * DAY, 5 * DAY),
    ("gt_5d", gettext_lazy("> 5 d"), 5 * DAY, None),
)


# --- who may look ------------------------------------------------------------------------------


def _is_head_or_admin(user: User) -> bool:
    return bool(user.is_staff) or bool(headed_department_ids(user))


def _dashboard_departments(user: User) -> list[dict[str, Any]]:
    """Admins pick any active department; heads their own: `pk` and `name`, by name. One query,
    compiled once per process (and number of departments headed)."""
    if user.is_staff:
        return fetch(
            ("slas.views.departments",),
            lambda: active_departments().order_by("name").values("pk", "name"),
        )
    headed = headed_department_ids(user)

    def build(**ids: int) -> QuerySet:
        departments = active_departments().filter(pk__in=list(ids.values()))
        return departments.order_by("name").values("pk", "name")

    return fetch(
        ("slas.views.departments", len(headed)), build, **numbered_values("department", headed)
    )


# --- the period --------------------------------------------------------------------------------


@dataclass
class Period:
    key: str  # "30d", "90d", "365d" or "custom"
    start: datetime
    end: datetime
    invalid: bool = False

    @property
    def group_by(self) -> str:
        return "month" if (self.end - self.start).days > 180 else "week"

    @property
    def last_day(self) -> datetime:
        return self.end - timedelta(microseconds=1)

    def query(self) -> dict[str, str]:
        if self.key == "custom":
            zone = ZoneInfo(settings.TIME_ZONE)
            return {
                "from": self.start.astimezone(zone).date().isoformat(),
                "to": self.last_day.astimezone(zone).date().isoformat(),
            }
        return {"period": self.key}


def _period(params: Any) -> Period:
    """`period=30d|90d|365d`, or `from`/`to` dates (both included, local time)."""
    zone = ZoneInfo(settings.TIME_ZONE)
    raw_from, raw_to = params.get("from"), params.get("to")
    if raw_from or raw_to:
        try:
            first = parse_date(raw_from or "")
            last = parse_date(raw_to or "") if raw_to else timezone.localdate()
        except ValueError:
            first = last = None
        if first and last and first <= last:
            start = datetime.combine(first, time.min, tzinfo=zone)
            end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone)
            if end <= metrics.latest_allowed_end(start):
                return Period("custom", start, end)
        invalid = True
        key = DEFAULT_PERIOD
    else:
        key = params.get("period", DEFAULT_PERIOD)
        invalid = key not in PERIODS
        if invalid:
            key = DEFAULT_PERIOD
    tomorrow = datetime.combine(timezone.localdate() + timedelta(days=1), time.min, tzinfo=zone)
    return Period(key, tomorrow - timedelta(days=PERIODS[key]), tomorrow, invalid=invalid)


def _period_choices() -> list[tuple[str, str]]:
    return [
        ("30d", _("Last 30 days")),
        ("90d", _("Last 90 days")),
        ("365d", _("Last 12 months")),
    ]


# --- the dashboard -----------------------------------------------------------------------------


def _percent_text(value: float | None) -> str:
    return "—" if value is None else f"{value:g} %"


def _trend_rows(report: metrics.SlaMetrics) -> list[dict[str, Any]]:
    """The trend table's rows, each percentage as the template showed it (localized, or —)."""

    def text(value: float | None) -> str:
        return "—" if value is None else f"{formats.localize(value)} %"

    return [
        {
            "label": group.label,
            "tickets": group.tickets,
            "response": text(group.response.compliance_percent),
            "resolution": text(group.resolution.compliance_percent),
        }
        for group in report.groups
    ]


def _resolve_histogram(report: metrics.SlaMetrics) -> list[dict[str, Any]]:
    """Resolved tickets by business time to resolve (`resolution_counts` of RESOLVE_BUCKETS)."""
    counts = report.resolution_counts or [0] * len(RESOLVE_BUCKETS)
    return [
        {"label": str(label), "count": count}
        for (_key, label, _low, _high), count in zip(RESOLVE_BUCKETS, counts, strict=True)
    ]


def _agent_workload(report: metrics.SlaMetrics) -> list[dict[str, Any]]:
    """Open tickets per assignee of the provider department (`backlog_by_assignee`)."""
    workload = []
    for row in report.backlog_by_assignee or []:
        if row["assignee_id"] is None:
            name = _("unassigned")
        else:
            name = person_name(
                row["assignee__first_name"], row["assignee__last_name"], row["assignee__username"]
            )
        workload.append({"name": name, "open_tickets": row["open_tickets"]})
    return workload


def _breaches(user: User, *, column: str, department_id: int, period: Period) -> list[dict]:
    """The newest breached tickets of the side (`column` is the department's) that the user may
    see, as dicts of BREACH_FIELDS: compiled once per process and viewer (`visibility_key`)."""

    def build(department_id: int, start: datetime, end: datetime) -> QuerySet:
        # The ids first, in a subquery of their own: PostgreSQL then reads them from the partial
        # index of breached tickets (index-only), not by walking every ticket of the period.
        newest_breached = (
            visible_tickets(user)
            .filter(**{column: department_id}, created_at__gte=start, created_at__lt=end)
            .filter(Q(response_breached=True) | Q(resolution_breached=True))
            .order_by("-created_at", "-id")
            .values("pk")[:RECENT_LIMIT]
        )
        # Only what the breaches table shows.
        return (
            Ticket.objects.filter(pk__in=newest_breached)
            .order_by("-created_at", "-id")
            .values(*BREACH_FIELDS)
        )

    key = ("slas.views.breaches", column, visibility_key(user))
    breaches = fetch(key, build, department_id=department_id, start=period.start, end=period.end)
    # The ticket page's address resolved once, not once per row (`{% url %}` in the loop).
    detail_url = reverse("ticket-detail", args=[URL_PLACEHOLDER])
    for ticket in breaches:
        ticket["detail_url"] = detail_url.replace(
            URL_PLACEHOLDER, quote(ticket["reference"], safe=RFC3986_SUBDELIMS + "/~:@")
        )
    return breaches


def _breach_rows(breaches: list[dict[str, Any]], *, provider: bool) -> SafeString:
    """The breaches table's rows, written here as the template wrote them: its loop over the
    rows was half of the page's rendering (issue #6). Every text is escaped."""
    badges = {
        "response_breached": f'<span class="badge breach">{escape(_("response"))}</span>',
        "resolution_breached": f'<span class="badge breach">{escape(_("resolution"))}</span>',
    }
    other_side = "requester_department__name" if provider else "provider_department__name"
    filed_format = formats.get_format("SHORT_DATETIME_FORMAT")  # as the `date` filter's
    rows = []
    for ticket in breaches:
        breached = "".join(badge for flag, badge in badges.items() if ticket[flag])
        filed = dateformat.format(timezone.localtime(ticket["created_at"]), filed_format)
        rows.append(
            f'<tr><td><a href="{escape(ticket["detail_url"])}">{escape(ticket["reference"])}</a>'
            f"</td><td>{escape(ticket['title'])}</td><td>{escape(ticket[other_side] or '')}</td>"
            f"\n      <td>{breached}</td><td>{escape(filed)}</td></tr>"
        )
    return mark_safe("".join(rows))  # noqa: S308 - every text above is escaped


def _reports(department_id: int, period: Period) -> tuple[metrics.SlaMetrics, metrics.SlaMetrics]:
    """The department's figures as provider and as consumer: from the daily figures once built
    (both sides from the same queries), else from the tickets."""
    options: dict[str, Any] = {
        "period_from": period.start,
        "period_to": period.end,
        "group_by": period.group_by,
        "group_percentiles": False,  # the trend shows compliance only
        "resolution_buckets": [(low, high) for _key, _label, low, high in RESOLVE_BUCKETS],
    }
    if figures.ready():
        reports = metrics.department_sla_metrics(
            department_id=department_id,
            sides=(figures.PROVIDER, figures.CONSUMER),
            assignee_backlog=(figures.PROVIDER,),
            **options,
        )
        return reports[figures.PROVIDER], reports[figures.CONSUMER]
    provider = metrics.sla_metrics(
        scope=metrics.MetricsScope(provider_department_id=department_id),
        use_figures=False,
        assignee_backlog=True,
        **options,
    )
    consumer = metrics.sla_metrics(
        scope=metrics.MetricsScope(consumer_department_id=department_id),
        use_figures=False,
        **options,
    )
    return provider, consumer


def _side(
    user: User,
    *,
    department_id: int,
    report: metrics.SlaMetrics,
    period: Period,
    provider: bool,
    heading: str,
) -> dict[str, Any]:
    histogram = _resolve_histogram(report)
    breaches = _breaches(
        user,
        column="provider_department_id" if provider else "requester_department_id",
        department_id=department_id,
        period=period,
    )
    status_labels = dict(Status.choices)
    priority_labels = dict(Priority.choices)
    backlog_status = [
        (str(status_labels[key]), value) for key, value in report.backlog_by_status.items()
    ]
    backlog_priority = [
        (str(priority_labels[key]), value) for key, value in report.backlog_by_priority.items()
    ]
    trend_labels = [group.label for group in report.groups]
    unit = _("Month") if period.group_by == "month" else _("Week (starting Monday)")
    trend_chart = charts.line_chart(
        title=_("%(side)s: compliance trend") % {"side": heading},
        desc=_("Response and resolution compliance in percent per %(unit)s.")
        % {"unit": unit.lower()},
        labels=trend_labels,
        series=[
            charts.Series(
                _("Response"), [group.response.compliance_percent for group in report.groups]
            ),
            charts.Series(
                _("Resolution"), [group.resolution.compliance_percent for group in report.groups]
            ),
        ],
        x_label=unit,
        y_label=_("Compliance %"),
    )
    workload = _agent_workload(report) if provider else []
    side: dict[str, Any] = {
        "heading": heading,
        "provider": provider,
        "report": report,
        "response_text": _percent_text(report.response.compliance_percent),
        "resolution_text": _percent_text(report.resolution.compliance_percent),
        "trend_chart": trend_chart,
        "trend_unit": unit,
        "trend_rows": _trend_rows(report),
        "breaches": breaches,
        "breach_rows": _breach_rows(breaches, provider=provider),
        "backlog_status": backlog_status,
        "backlog_priority": backlog_priority,
        "backlog_status_chart": charts.bar_chart(
            title=_("%(side)s: open tickets by status") % {"side": heading},
            desc=_("Open tickets now, per status."),
            bars=backlog_status,
            x_label=_("Status"),
            y_label=_("Tickets"),
        ),
        "backlog_priority_chart": charts.bar_chart(
            title=_("%(side)s: open tickets by priority") % {"side": heading},
            desc=_("Open tickets now, per priority."),
            bars=backlog_priority,
            x_label=_("Priority"),
            y_label=_("Tickets"),
        ),
        "histogram": histogram,
        "histogram_chart": charts.bar_chart(
            title=_("%(side)s: time to resolve") % {"side": heading},
            desc=_(
                "Resolved tickets created in the period, by business time to resolve "
                "(one business day = 8 business hours)."
            ),
            bars=[(row["label"], row["count"]) for row in histogram],
            x_label=_("Business time to resolve"),
            y_label=_("Tickets"),
        ),
        "workload": workload,
    }
    if provider:
        side["workload_chart"] = charts.bar_chart(
            title=_("Open tickets per agent"),
            desc=_("Open tickets of the department now, per assignee."),
            bars=[(row["name"], row["open_tickets"]) for row in workload],
            x_label=_("Assignee"),
            y_label=_("Open tickets"),
        )
    return side


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not _is_head_or_admin(user):
        raise PermissionDenied(_("The dashboard is for department heads and admins."))
    departments = _dashboard_departments(user)
    if not departments:
        raise PermissionDenied(_("You head no active department."))
    chosen = departments[0]
    raw = request.GET.get("department")
    if raw:
        chosen = next((d for d in departments if str(d["pk"]) == raw), None)
        if chosen is None:
            raise PermissionDenied(_("You may only see the dashboard of your own department."))
    period = _period(request.GET)
    provider_report, consumer_report = _reports(chosen["pk"], period)
    sides = [
        _side(
            user,
            department_id=chosen["pk"],
            report=report,
            period=period,
            provider=provider,
            heading=heading,
        )
        for report, provider, heading in (
            (provider_report, True, _("As provider")),
            (consumer_report, False, _("As consumer")),
        )
    ]
    return render(
        request,
        "slas/dashboard.html",
        {
            "department": chosen,
            "departments": departments,
            "period": period,
            "period_choices": _period_choices(),
            "sides": sides,
            # Satisfaction (ratings, peak-end) and recognition (kudos) panels: feedback app.
            **dashboard_panels(department_id=chosen["pk"], start=period.start, end=period.end),
            # Latest closed SERVQUAL campaign of the department: feedback app.
            "servqual": dashboard_servqual(chosen["pk"]),
        },
    )


# --- the service map ---------------------------------------------------------------------------


def _edge_rows(period: Period) -> list[dict[str, Any]]:
    """Every consumer → provider relationship with its volume and resolution compliance, in one
    aggregate query (the compliance definitions are `slas.metrics`')."""
    clock = metrics.RESOLUTION
    rows = (
        Ticket.objects.filter(
            created_at__gte=period.start,
            created_at__lt=period.end,
            requester_department__isnull=False,
        )
        .values("requester_department", "provider_department")
        .annotate(
            tickets=Count("pk"),
            measured=Count("pk", filter=clock.measured),
            met=Count("pk", filter=clock.met),
        )
        .order_by("-tickets", "requester_department", "provider_department")
    )
    return [
        {
            "consumer_id": row["requester_department"],
            "provider_id": row["provider_department"],
            "tickets": row["tickets"],
            "measured": row["measured"],
            "met": row["met"],
            "compliance": (
                round(100 * row["met"] / row["measured"], 2) if row["measured"] else None
            ),
        }
        for row in rows
    ]


MAP_DRAWN_DEPARTMENTS = 14  # beyond this, arrows on a circle become a blot: draw a grid


def _busiest(
    edges: list[dict[str, Any]], side: str, departments: dict[int, Department]
) -> list[charts.MapNode]:
    """The departments on one side of the relationships, most tickets first."""
    totals: dict[int, int] = {}
    for edge in edges:
        totals[edge[side]] = totals.get(edge[side], 0) + edge["tickets"]
    ordered = sorted(totals, key=lambda key: (-totals[key], departments[key].name))
    return [charts.MapNode(key, departments[key].name) for key in ordered]


@login_required
def service_map(request: HttpRequest) -> HttpResponse:
    if not _is_head_or_admin(request.user):
        raise PermissionDenied(_("The service map is for department heads and admins."))
    period = _period(request.GET)
    departments = {d.pk: d for d in Department.objects.order_by("name")}
    edges = _edge_rows(period)
    involved = {e["consumer_id"] for e in edges} | {e["provider_id"] for e in edges}
    nodes = [
        charts.MapNode(d.pk, d.name)
        for d in departments.values()
        if d.is_active or d.pk in involved
    ]
    period_query = period.query()
    map_edges = []
    for edge in edges:
        consumer, provider = departments[edge["consumer_id"]], departments[edge["provider_id"]]
        edge["consumer"], edge["provider"] = consumer, provider
        edge["compliance_text"] = _percent_text(edge["compliance"])
        edge["colour"] = charts.compliance_colour(edge["compliance"])
        edge["href"] = "/map/edge/?" + urlencode(
            {"consumer": consumer.pk, "provider": provider.pk, **period_query}
        )
        text = _("%(consumer)s → %(provider)s: %(tickets)d tickets, compliance %(compliance)s") % {
            "consumer": consumer.name,
            "provider": provider.name,
            "tickets": edge["tickets"],
            "compliance": edge["compliance_text"],
        }
        map_edges.append(
            charts.MapEdge(
                consumer.pk,
                provider.pk,
                edge["tickets"],
                edge["compliance"],
                edge["href"],
                text,
            )
        )
    if len(involved) <= MAP_DRAWN_DEPARTMENTS:
        chart = charts.service_map(
            title=_("Internal service map"),
            desc=_(
                "Departments as nodes; an arrow from a consumer to a provider for the tickets it "
                "filed in the period, coloured by resolution compliance. The table below lists "
                "every arrow."
            ),
            nodes=nodes,
            edges=map_edges,
        )
    else:  # too many departments for arrows: the same relationships as a grid
        chart = charts.service_matrix(
            title=_("Internal service map"),
            desc=_(
                "A row per consumer department and a column per provider, busiest first; each "
                "cell is the tickets the consumer filed with the provider in the period, "
                "coloured by resolution compliance. The table below lists every cell."
            ),
            consumers=_busiest(edges, "consumer_id", departments),
            providers=_busiest(edges, "provider_id", departments),
            edges=map_edges,
        )
    return render(
        request,
        "slas/map.html",
        {
            "period": period,
            "period_choices": _period_choices(),
            "chart": chart,
            "edges": edges,
        },
    )


@login_required
def map_edge(request: HttpRequest) -> HttpResponse:
    if not _is_head_or_admin(request.user):
        raise PermissionDenied(_("The service map is for department heads and admins."))
    try:
        consumer_id = int(request.GET.get("consumer", ""))
        provider_id = int(request.GET.get("provider", ""))
    except ValueError as error:
        raise PermissionDenied(_("Choose a consumer and a provider department.")) from error
    consumer = get_object_or_404(Department, pk=consumer_id)
    provider = get_object_or_404(Department, pk=provider_id)
    period = _period(request.GET)
    scope = metrics.MetricsScope(
        provider_department_id=provider.pk, consumer_department_id=consumer.pk
    )
    report = metrics.sla_metrics(scope=scope, period_from=period.start, period_to=period.end)
    tickets = list(
        visible_tickets(request.user)
        .filter(
            requester_department=consumer,
            provider_department=provider,
            created_at__gte=period.start,
            created_at__lt=period.end,
        )
        .select_related("service", "requester", "assignee")
        .order_by("-created_at", "-id")[: RECENT_LIMIT * 2]
    )
    agreements = list(
        Agreement.objects.filter(provider_department=provider)
        .filter(Q(consumer_department=consumer) | Q(consumer_department__isnull=True))
        .select_related("policy", "service", "consumer_department")
        .order_by("consumer_department_id", "service_id", "pk")
    )
    return render(
        request,
        "slas/map_edge.html",
        {
            "consumer": consumer,
            "provider": provider,
            "period": period,
            "report": report,
            "response_text": _percent_text(report.response.compliance_percent),
            "resolution_text": _percent_text(report.resolution.compliance_percent),
            "tickets": tickets,
            "agreements": agreements,
            "back": "/map/?" + urlencode(period.query()),
        },
    )
