"""The agent's department queue: filter, sort by due time, page by keyset, assign in bulk."""

import html
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import get_template
from django.urls import get_script_prefix, reverse
from django.utils import dateformat, formats, timezone, translation
from django.utils.html import format_html
from django.utils.http import RFC3986_SUBDELIMS
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_GET, require_POST

from departments.models import Membership, person_name
from departments.selectors import PROVIDER_ROLES, provider_department_ids
from servicedesk.errors import InvalidInput, InvalidTransition, NotAllowed
from servicedesk.statements import fetch
from slas.clocks import RESOLUTION, RESPONSE, ClockContext, remaining_minutes_of, targets

from . import selectors, services
from .models import Priority, Service, Status, Ticket
from .queue_forms import (
    SORT_CREATED,
    SORT_PRIORITY,
    SORT_RESPONSE_DUE,
    Agent,
    BulkAssignForm,
    DepartmentPickerForm,
    QueueDepartment,
    QueueFilter,
)
from .ranks import PRIORITY_RANK, Rank

PAGE_SIZE = 50
# Keyset paging needs a total order: every sort ends with the id.
CURSOR_SEPARATOR = "~"


@dataclass
class ClockCell:
    due: datetime | None
    breached: bool
    warning: bool
    left: int | None  # business minutes; negative when overdue

    @property
    def overdue(self) -> int | None:
        return -self.left if self.left is not None and self.left < 0 else None


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, "queue/forbidden.html", status=403)


def _departments_and_agents(request: HttpRequest) -> dict[QueueDepartment, list[Agent]]:
    """The user's provider departments (by name) with each one's active agents and heads (by
    username, as `services.agents_of`): one query, where departments and agents took two."""
    ids = provider_department_ids(request.user)
    if not ids:
        return {}

    def staff() -> QuerySet:
        return (
            Membership.objects.filter(
                department_id__in=ids, role__in=PROVIDER_ROLES, user__is_active=True
            )
            .order_by("department__name", "department_id", "user__username")
            .values(
                "department_id",
                "department__name",
                "user_id",
                "user__first_name",
                "user__last_name",
                "user__username",
            )
        )

    departments: dict[QueueDepartment, list[Agent]] = {}
    # The user holds a provider role in each of `ids`, so each has at least one row.
    for row in fetch(("queue-staff", tuple(sorted(ids))), staff):
        department = QueueDepartment(row["department_id"], row["department__name"])
        departments.setdefault(department, []).append(
            Agent(
                row["user_id"],
                person_name(row["user__first_name"], row["user__last_name"], row["user__username"]),
            )
        )
    return departments


def _services(department_id: int) -> QuerySet:
    """The department's services by name, the filter's choices."""
    return Service.objects.filter(department_id=department_id).order_by("name").values("id", "name")


# -- Sorting and keyset paging ---------------------------------------------------------------


def _ordered(qs: QuerySet[Ticket], sort: str) -> QuerySet[Ticket]:
    if sort == SORT_CREATED:
        return qs.order_by("-created_at", "-id")
    if sort == SORT_PRIORITY:
        return qs.annotate(priority_rank=Rank("priority")).order_by("priority_rank", "id")
    field = "response_due_at" if sort == SORT_RESPONSE_DUE else "resolution_due_at"
    return qs.order_by(F(field).asc(nulls_last=True), "id")


def _sort_value(ticket: dict[str, Any], sort: str) -> str:
    if sort == SORT_CREATED:
        return ticket["created_at"].isoformat()
    if sort == SORT_PRIORITY:
        return str(PRIORITY_RANK.get(ticket["priority"], len(PRIORITY_RANK)))
    due = ticket["response_due_at" if sort == SORT_RESPONSE_DUE else "resolution_due_at"]
    return due.isoformat() if due else ""


def _cursor(ticket: dict[str, Any], sort: str) -> str:
    return f"{_sort_value(ticket, sort)}{CURSOR_SEPARATOR}{ticket['id']}"


def _parsed_cursor(sort: str, cursor: str) -> dict[str, Any] | None:
    """The cursor's values as `_after` takes them, or None when the cursor is not valid."""
    raw_value, _sep, raw_id = cursor.rpartition(CURSOR_SEPARATOR)
    if not (raw_id.isascii() and raw_id.isdigit()):
        return None
    last_id = int(raw_id)
    try:
        if sort == SORT_PRIORITY:
            return {"rank": int(raw_value), "last_id": last_id}
        value = datetime.fromisoformat(raw_value) if raw_value else None
    except ValueError:
        return None
    if value is None:  # after a row without a due time (they come last); never a created time
        return None if sort == SORT_CREATED else {"last_id": last_id}
    if value.tzinfo is None:
        return None
    return {"value": value, "last_id": last_id}


def _after(
    qs: QuerySet[Ticket],
    sort: str,
    *,
    last_id: int,
    value: datetime | None = None,
    rank: int | None = None,
) -> QuerySet[Ticket]:
    """The rows after the cursor's (`_parsed_cursor`) in the sort's order."""
    if sort == SORT_PRIORITY:
        return qs.filter(Q(priority_rank__gt=rank) | Q(priority_rank=rank, id__gt=last_id))
    if sort == SORT_CREATED:
        return qs.filter(Q(created_at__lt=value) | Q(created_at=value, id__lt=last_id))
    field = "response_due_at" if sort == SORT_RESPONSE_DUE else "resolution_due_at"
    if value is None:  # already among the rows without a due time (they come last)
        return qs.filter(**{f"{field}__isnull": True, "id__gt": last_id})
    return qs.filter(
        Q(**{f"{field}__gt": value})
        | Q(**{field: value, "id__gt": last_id})
        | Q(**{f"{field}__isnull": True})
    )


# -- Rows --------------------------------------------------------------------------------------


def _clock_cell(ticket: dict[str, Any], clock: str, cache: dict, now: datetime) -> ClockCell:
    if clock == RESPONSE:
        due, breached = ticket["response_due_at"], ticket["response_breached"]
    else:
        due, breached = ticket["resolution_due_at"], ticket["resolution_breached"]
    left = remaining_minutes_of(
        clock=clock,
        status=ticket["status"],
        first_response_at=ticket["first_response_at"],
        sla_policy_id=ticket["sla_policy_id"],
        due=due,
        now=now,
        cache=cache,
    )
    warning = False
    if left is not None and left >= 0 and not breached:
        # The context remaining_minutes_of loaded: one policy and calendar per policy id.
        policy = ClockContext.of_policy(ticket["sla_policy_id"], cache).policy
        if policy is not None:
            response_target, resolution_target = targets(policy, ticket["priority"])
            target = response_target if clock == RESPONSE else resolution_target
            if target:
                used_percent = (target - left) * 100 / target
                warning = used_percent >= policy.warning_percent
    return ClockCell(due=due, breached=breached, warning=warning, left=left)


NO_DUE_TIME = format_html('<span class="muted">{}</span>', "—")


# Date format codes whose text depends on the day only, and on the hour and minute only.
DAY_CODES = frozenset("bdDEFjlLmMnNoStwWyYz")
CLOCK_CODES = frozenset("aAfgGhHiP")


def _braces(text: str) -> str:
    """`text` as literal text of a str.format template."""
    return text.replace("{", "{{").replace("}", "}}")


class _DueCellWords:
    """The due cell's zone, date format and translated words, looked up once per page."""

    def __init__(self) -> None:
        self.zone = timezone.get_current_timezone()
        # `dateformat.format` splits the format string with a regex at every call: split once.
        pieces = dateformat.re_formatchars.split(formats.get_format("SHORT_DATETIME_FORMAT"))
        self.date_pieces = [
            (True, piece) if index % 2 else (False, dateformat.re_escaped.sub(r"\1", piece))
            for index, piece in enumerate(pieces)
            if piece
        ]
        codes = {piece for is_code, piece in self.date_pieces if is_code}
        self.by_day_and_clock = codes <= DAY_CODES | CLOCK_CODES
        self.days: dict[date, str] = {}
        self.clocks: dict[tuple[int, int], list[str]] = {}
        self.breached = format_html(' <span class="badge breach">{}</span>', gettext("breached"))
        self.warning = format_html(' <span class="badge warning">{}</span>', gettext("warning"))
        # The words of a number of minutes, once per page (many rows share one).
        self.overdue_badges: dict[int, str] = {}
        self.remaining: dict[int, str] = {}

    def date(self, value: datetime) -> str:
        """`value|date:"SHORT_DATETIME_FORMAT"` for a value already in the page's zone."""
        if not self.by_day_and_clock:
            formatter = dateformat.DateFormat(value)
            return "".join(
                str(getattr(formatter, piece)()) if is_code else piece
                for is_code, piece in self.date_pieces
            )
        # The day's words filled in once per day the page shows; the clock's once per time of
        # day, without the zone checks of a DateFormat (a third of the rows' time).
        day = value.date()
        template = self.days.get(day)
        if template is None:
            formatter = dateformat.DateFormat(value)
            template = "".join(
                "{}"
                if is_code and piece in CLOCK_CODES
                else _braces(str(getattr(formatter, piece)()) if is_code else piece)
                for is_code, piece in self.date_pieces
            )
            self.days[day] = template
        clock = self.clocks.get((value.hour, value.minute))
        if clock is None:
            formatter = dateformat.TimeFormat(value.time())
            clock = [
                str(getattr(formatter, piece)())
                for is_code, piece in self.date_pieces
                if is_code and piece in CLOCK_CODES
            ]
            self.clocks[(value.hour, value.minute)] = clock
        return template.format(*clock)

    def html(self, cell: ClockCell) -> str:
        """The due time, at most one badge (breached, overdue or warning) and the time left, as
        markup (its words escaped, badges safe) for a row.

        Built here rather than by an include per cell: two includes a row were a third of
        the page's time."""
        if cell.due:
            local = cell.due.astimezone(self.zone)
            # isoformat() writes digits and "-:.+T" only: nothing to escape.
            parts = [f'<time datetime="{local.isoformat()}">{html.escape(self.date(local))}</time>']
        else:
            parts = [NO_DUE_TIME]
        if cell.breached:
            parts.append(self.breached)
        elif cell.overdue is not None:
            parts.append(self.overdue(cell.overdue))
        elif cell.warning:
            parts.append(self.warning)
        if cell.left is not None and cell.left >= 0:
            parts.append(self.left(cell.left))
        return "".join(parts)

    def overdue(self, minutes: int) -> str:
        return _badge(
            self.overdue_badges,
            minutes,
            "badge breach",
            lambda n: ngettext(
                "overdue by %(minutes)s business minute",
                "overdue by %(minutes)s business minutes",
                n,
            ),
        )

    def left(self, minutes: int) -> str:
        return _badge(
            self.remaining,
            minutes,
            "remaining",
            lambda n: ngettext(
                "%(minutes)s business minute left", "%(minutes)s business minutes left", n
            ),
        )


def _badge(kept: dict[int, str], minutes: int, css: str, words: Callable[[int], str]) -> str:
    """A minutes badge, written once per number of minutes per page."""
    badge = kept.get(minutes)
    if badge is None:
        text = words(minutes) % {"minutes": formats.localize(minutes)}
        badge = kept[minutes] = f' <span class="{css}">{html.escape(text)}</span>'
    return badge


def _name(first_name: str | None, last_name: str | None, username: str | None) -> str:
    """A row's person as `str(user)` shows them; "" for nobody (no assignee)."""
    return "" if username is None else person_name(first_name, last_name, username)


# One table row (templates/queue/_table.html places them). Built in Python like the admin's
# change list rows: as template logic (an include per due cell, filters, {% url %},
# get_FOO_display) the 50 rows were most of the page's time. _rows escapes every value.
ROW_HTML = """
      <tr>
        <td><input type="checkbox" name="ticket" value="{pk}" id="select-{pk}">
          <label for="select-{pk}" class="sr-only">{select_label}</label></td>
        <td><a href="{url}">{reference}</a></td>
        <td>{title}</td>
        <td>{service}</td>
        <td>{requester}<br><small>{requester_department}</small></td>
        <td><span class="priority priority-{priority}">{priority_label}</span></td>
        <td>{status_label}</td>
        <td>{assignee}</td>
        <td>{response}</td>
        <td>{resolution}</td>
      </tr>
      """


URL_PLACEHOLDER = "reference"
URL_SAFE = RFC3986_SUBDELIMS + "/~:@"  # what `reverse` leaves unquoted


def _rows(tickets: list[dict[str, Any]]) -> SafeString:
    """The table's rows as one string: a template loop over 50 rows was a tenth of its time."""
    cache: dict = {}
    now = timezone.now()  # one instant for every row
    words = _DueCellWords()
    escape = html.escape
    # Escaped once per page: the labels, and the few services and departments the rows repeat.
    priority_labels = {value: escape(str(label)) for value, label in Priority.choices}
    status_labels = {value: escape(str(label)) for value, label in Status.choices}
    repeated: dict[str, str] = {}
    select_label = escape(gettext("Select %(reference)s"))
    unassigned = format_html("<em>{}</em>", gettext("Unassigned"))
    # `reverse("ticket-detail", args=[reference])` for each row: the URL resolved once around
    # a placeholder, each reference quoted as `reverse` quotes it.
    url_start, _placeholder, url_end = reverse("ticket-detail", args=[URL_PLACEHOLDER]).rpartition(
        URL_PLACEHOLDER
    )
    # A person's name, escaped, once per page: agents and requesters recur.
    people: dict[tuple[str | None, str | None, str | None], str] = {}
    rows = []
    for ticket in tickets:
        reference, priority, status = ticket["reference"], ticket["priority"], ticket["status"]
        assignee_key = (
            ticket["assignee__first_name"],
            ticket["assignee__last_name"],
            ticket["assignee__username"],
        )
        if assignee_key not in people:
            people[assignee_key] = escape(_name(*assignee_key))
        requester_key = (
            ticket["requester__first_name"],
            ticket["requester__last_name"],
            ticket["requester__username"],
        )
        if requester_key not in people:
            people[requester_key] = escape(_name(*requester_key))
        service = ticket["service__name"]
        department = ticket["requester_department_name"] or ""
        for repeating in (service, department, priority):
            if repeating not in repeated:
                repeated[repeating] = escape(repeating)
        escaped_reference = escape(reference)
        row = ROW_HTML.format(
            pk=int(ticket["id"]),
            # Escaping works character by character: the label's words escaped once.
            select_label=select_label % {"reference": escaped_reference},
            url=escape(f"{url_start}{quote(reference, safe=URL_SAFE)}{url_end}"),
            reference=escaped_reference,
            title=escape(ticket["title"]),
            service=repeated[service],
            requester=people[requester_key],
            requester_department=repeated[department],
            priority=repeated[priority],
            priority_label=priority_labels.get(priority) or repeated[priority],
            status_label=status_labels.get(status) or escape(status),
            assignee=people[assignee_key] or unassigned,
            response=words.html(_clock_cell(ticket, RESPONSE, cache, now)),
            resolution=words.html(_clock_cell(ticket, RESOLUTION, cache, now)),
        )
        rows.append(row)
    return mark_safe("".join(rows))  # noqa: S308 - every value escaped (or built safe) above


# templates/queue/_filters.html, kept per process under all it shows: rendering its six fields
# was a twentieth of the page, and agents come back to the same filters.
FILTER_FORMS_KEPT = 256
_filter_forms: dict[Hashable, SafeString] = {}


def _filters_html(
    queue_filter: QueueFilter,
    department: QueueDepartment,
    services: list[tuple[int, str]],
    agents: list[Agent],
) -> SafeString:
    """The filter form as templates/queue/_filters.html renders it (from `filter` and
    `department` only), for the active language and the form's data and choices."""
    form = queue_filter.form
    key = (
        translation.get_language(),
        get_script_prefix(),
        department,
        tuple(services),
        tuple(agents),
        tuple((name, tuple(form.data.getlist(name))) for name in form.fields),
    )
    filters = _filter_forms.get(key)
    if filters is None:
        filters = get_template("queue/_filters.html").render(
            {"filter": queue_filter, "department": department}
        )
        if len(_filter_forms) >= FILTER_FORMS_KEPT:
            _filter_forms.clear()
        _filter_forms[key] = filters
    return filters


def _agent_options(agents: list[Agent]) -> SafeString:
    """The bulk assignment's choices: a template loop over the agents was a third of the
    table's template."""
    return mark_safe(  # noqa: S308 - the names escaped, the ids numbers
        "".join(
            f'<option value="{int(agent.pk)}">{html.escape(agent.name)}</option>'
            for agent in agents
        )
    )


# -- Views -------------------------------------------------------------------------------------


@login_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    staff = _departments_and_agents(request)
    if not staff:
        return _forbidden(request)
    departments = list(staff)
    department = departments[0]
    picker = None  # shown to agents of more than one department only
    if len(departments) > 1:
        picker = DepartmentPickerForm(
            {"department": request.GET.get("department", department.pk)},
            departments=departments,
        )
        if picker.is_valid() and picker.cleaned_data["department"]:
            chosen = picker.cleaned_data["department"]
            department = next(d for d in departments if d.pk == chosen)

    agents = staff[department]
    services = [
        (service["id"], service["name"])
        for service in fetch(("queue-services",), _services, department_id=department.pk)
    ]
    queue_filter = QueueFilter(request.GET, services=services, agents=agents, user=request.user)
    sort = queue_filter.chosen_sort
    cursor = request.GET.get("after", "")
    after = _parsed_cursor(sort, cursor) if cursor else None
    cursor_error = bool(cursor) and after is None

    def page_rows(**after: Any) -> QuerySet:
        tickets = selectors.visible_tickets(request.user).filter(
            provider_department_id=department.pk
        )
        # Invalid filter values are reported on the form; the valid ones still apply.
        page_qs = _ordered(queue_filter.filter(tickets), sort)
        if after:
            page_qs = _after(page_qs, sort, **after)
        return selectors.queue_rows(page_qs)[: PAGE_SIZE + 1]

    # All the page's query depends on but the cursor's values, which each run binds.
    key = (
        "queue-rows",
        selectors.visibility_key(request.user),
        department.pk,
        queue_filter.applied,
        sort,
        tuple(after or ()),
        PAGE_SIZE,
    )
    page = fetch(key, page_rows, **(after or {}))
    next_query = ""
    if len(page) > PAGE_SIZE:
        page = page[:PAGE_SIZE]
        params = request.GET.copy()
        params["department"] = str(department.pk)
        params["after"] = _cursor(page[-1], sort)
        next_query = params.urlencode()

    current = request.GET.copy()
    current["department"] = str(department.pk)
    first_page = current.copy()
    first_page.pop("after", None)
    context: dict[str, Any] = {
        "department": department,
        "departments": departments,
        "picker": picker,
        "filter": queue_filter,
        "rows": _rows(page),
        "agent_options": _agent_options(agents),
        "next_query": next_query,
        "is_later_page": bool(cursor) and not cursor_error,
        "first_page_query": first_page.urlencode(),
        "cursor_error": cursor_error,
        "current_query": current.urlencode(),
    }
    if request.headers.get("HX-Request") and not request.headers.get("HX-Boosted"):
        return render(request, "queue/_table.html", context)
    context["filters"] = _filters_html(queue_filter, department, services, agents)
    return render(request, "queue/queue.html", context)


@login_required
@require_POST
def bulk_assign(request: HttpRequest) -> HttpResponse:
    provided = provider_department_ids(request.user)
    if not provided:
        return _forbidden(request)
    raw_department = request.POST.get("department", "")
    department_id = int(raw_department) if raw_department.isdigit() else None
    if department_id not in provided:
        return _forbidden(request)
    agents = services.agents_of(department_id)
    form = BulkAssignForm(request.POST, agents=agents)
    query = QueryDict(request.POST.get("query", "")[:2000]).copy()
    query["department"] = str(department_id)
    back = f"{reverse('queue')}?{query.urlencode()}"
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)

    assignee = next(a for a in agents if a.pk == form.cleaned_data["assignee"])
    wanted = form.cleaned_data["ticket"]
    # Only tickets the user may see, of this queue: posted ids are never trusted.
    tickets = list(
        selectors.visible_tickets(request.user)
        .filter(pk__in=wanted, provider_department_id=department_id)
        .order_by("reference")
    )
    assigned: list[str] = []
    refused: list[str] = []
    for ticket in tickets:
        try:
            services.update_ticket(ticket=ticket, actor=request.user, assignee=assignee)
        except (InvalidInput, InvalidTransition, NotAllowed) as error:
            refused.append(f"{ticket.reference} ({error.detail})")
        else:
            assigned.append(ticket.reference)
    not_found = len(wanted) - len(tickets)

    summary = ngettext(
        "Assigned %(count)d ticket to %(assignee)s.",
        "Assigned %(count)d tickets to %(assignee)s.",
        len(assigned),
    ) % {"count": len(assigned), "assignee": assignee.get_full_name() or assignee.username}
    if refused:
        summary += " " + ngettext(
            "%(count)d refused: %(tickets)s",
            "%(count)d refused: %(tickets)s",
            len(refused),
        ) % {"count": len(refused), "tickets": "; ".join(refused)}
    if not_found:
        summary += " " + ngettext(
            "%(count)d not found in this queue.",
            "%(count)d not found in this queue.",
            not_found,
        ) % {"count": not_found}
    level = messages.SUCCESS if assigned and not refused and not not_found else messages.WARNING
    messages.add_message(request, level, summary)
    return redirect(back)
