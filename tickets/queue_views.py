"""The agent's department queue: filter, sort by due time, page by keyset, assign in bulk."""

import html
from collections.abc import Callable, Hashable
from datetime import datetime
from operator import itemgetter
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import get_template
from django.urls import get_script_prefix, reverse
from django.utils import formats, timezone, translation
from django.utils.html import format_html
from django.utils.http import RFC3986_SUBDELIMS
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_GET, require_POST

from departments.models import Membership, person_name
from departments.selectors import PROVIDER_ROLES, headed_department_ids, provider_department_ids
from servicedesk.errors import InvalidInput, InvalidTransition, NotAllowed
from servicedesk.statements import fetch
from slas.clocks import RESOLUTION, RESPONSE, ClockContext, remaining_minutes_of, targets

from . import selectors, services
from .dates import ShortDatetimes, format_key, keep
from .models import Priority, Service, Status, Ticket
from .queue_forms import (
    ME,
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


def _clock_state(
    ticket: dict[str, Any], clock: str, cache: dict, now: datetime
) -> tuple[datetime | None, bool, bool, int | None]:
    """A due cell's due time, whether it is breached, whether it warns, and the business
    minutes left (negative when overdue; None when the clock is not running)."""
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
    return due, breached, warning, left


NO_DUE_TIME = format_html('<span class="muted">{}</span>', "—")


class _DueCellWords:
    """The due cells' dates and translated words (`current()` keeps one per language, zone and
    date format in the process)."""

    def __init__(self) -> None:
        self.dates = ShortDatetimes.current()
        self.times: dict[datetime, str] = {}
        self.breached = format_html(' <span class="badge breach">{}</span>', gettext("breached"))
        self.warning = format_html(' <span class="badge warning">{}</span>', gettext("warning"))
        # The words of a number of minutes (many rows share one).
        self.overdue_badges: dict[int, str] = {}
        self.remaining: dict[int, str] = {}

    @classmethod
    def current(cls) -> "_DueCellWords":
        """The words of the active language, zone and date format. Kept by the process: what a
        due time or a number of minutes reads as does not change while it runs, and a queue
        shows mostly the same due times at every visit. Working them out again for each page
        was half of the rows' time."""
        key = format_key()
        words = _due_cell_words.get(key)
        if words is None:
            words = keep(_due_cell_words, key, cls())
        return words

    def time(self, due: datetime) -> str:
        """The `<time>` element of a due time."""
        markup = self.times.get(due)
        if markup is None:
            local = due.astimezone(self.dates.zone)
            # isoformat() writes digits and "-:.+T" only: nothing to escape.
            text = html.escape(self.dates.local(local))
            markup = keep(self.times, due, f'<time datetime="{local.isoformat()}">{text}</time>')
        return markup

    def cell(self, due: datetime | None, breached: bool, warning: bool, left: int | None) -> str:
        """The due time, at most one badge (breached, overdue or warning) and the time left, as
        markup (its words escaped, badges safe) for a row (`_clock_state`'s values).

        Built here rather than by an include per cell: two includes a row were a third of
        the page's time."""
        markup = self.time(due) if due else NO_DUE_TIME
        if breached:
            markup += self.breached
        elif left is not None and left < 0:
            markup += self.overdue(-left)
        elif warning:
            markup += self.warning
        if left is not None and left >= 0:
            markup += self.left(left)
        return markup

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


_due_cell_words: dict[tuple[str, str, str], _DueCellWords] = {}


def _badge(kept: dict[int, str], minutes: int, css: str, words: Callable[[int], str]) -> str:
    """A minutes badge, written once per number of minutes."""
    badge = kept.get(minutes)
    if badge is None:
        text = words(minutes) % {"minutes": formats.localize(minutes)}
        badge = keep(kept, minutes, f' <span class="{css}">{html.escape(text)}</span>')
    return badge


def _name(first_name: str | None, last_name: str | None, username: str | None) -> str:
    """A row's person as `str(user)` shows them; "" for nobody (no assignee)."""
    return "" if username is None else person_name(first_name, last_name, username)


# One table row (templates/queue/_table.html places them): its start, the response due cell,
# ROW_MIDDLE, the resolution due cell and ROW_END. Built in Python like the admin's change list
# rows: as template logic (an include per due cell, filters, {% url %}, get_FOO_display) the
# 50 rows were most of the page's time. Every value is escaped.
ROW_START = """
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
        <td>"""
ROW_MIDDLE = """</td>
        <td>"""
ROW_END = """</td>
      </tr>
      """
# What a row's start shows.
ROW_START_FIELDS = itemgetter(
    "id",
    "reference",
    "title",
    "service__name",
    "requester__first_name",
    "requester__last_name",
    "requester__username",
    "requester_department_name",
    "priority",
    "status",
    "assignee__first_name",
    "assignee__last_name",
    "assignee__username",
)


URL_PLACEHOLDER = "reference"
URL_SAFE = RFC3986_SUBDELIMS + "/~:@"  # what `reverse` leaves unquoted


class _RowStarts:
    """The rows' starts (ROW_START) in one language and under one URL prefix (`current()`
    keeps one of each in the process), each kept under the values it shows: a queue shows
    mostly the same tickets at every visit, and writing them again (escaping every value,
    quoting the link) was a third of the rows' time."""

    def __init__(self, url_start: str, url_end: str) -> None:
        escape = html.escape
        self.url_start, self.url_end = url_start, url_end
        self.priority_labels = {value: escape(str(label)) for value, label in Priority.choices}
        self.status_labels = {value: escape(str(label)) for value, label in Status.choices}
        self.select_label = escape(gettext("Select %(reference)s"))
        self.unassigned = format_html("<em>{}</em>", gettext("Unassigned"))
        self.starts: dict[tuple, str] = {}

    @classmethod
    def current(cls) -> "_RowStarts":
        # `reverse("ticket-detail", args=[reference])` for each row: the URL resolved once
        # around a placeholder, each reference quoted as `reverse` quotes it.
        url_start, _placeholder, url_end = reverse(
            "ticket-detail", args=[URL_PLACEHOLDER]
        ).rpartition(URL_PLACEHOLDER)
        key = (translation.get_language(), url_start, url_end)
        starts = _row_starts.get(key)
        if starts is None:
            starts = keep(_row_starts, key, cls(url_start, url_end))
        return starts

    def start(self, ticket: dict[str, Any]) -> str:
        values = ROW_START_FIELDS(ticket)
        start = self.starts.get(values)
        if start is None:
            start = keep(self.starts, values, self._written(*values))
        return start

    def _written(
        self,
        pk: int,
        reference: str,
        title: str,
        service: str,
        requester_first_name: str,
        requester_last_name: str,
        requester_username: str,
        requester_department: str | None,
        priority: str,
        status: str,
        assignee_first_name: str | None,
        assignee_last_name: str | None,
        assignee_username: str | None,
    ) -> str:
        escape = html.escape
        escaped_reference = escape(reference)
        assignee = _name(assignee_first_name, assignee_last_name, assignee_username)
        return ROW_START.format(
            pk=int(pk),
            # Escaping works character by character: the label's words escaped once.
            select_label=self.select_label % {"reference": escaped_reference},
            url=escape(f"{self.url_start}{quote(reference, safe=URL_SAFE)}{self.url_end}"),
            reference=escaped_reference,
            title=escape(title),
            service=escape(service),
            requester=escape(_name(requester_first_name, requester_last_name, requester_username)),
            requester_department=escape(requester_department or ""),
            priority=escape(priority),
            priority_label=self.priority_labels.get(priority) or escape(priority),
            status_label=self.status_labels.get(status) or escape(status),
            assignee=escape(assignee) or self.unassigned,
        )


_row_starts: dict[tuple[str, str, str], _RowStarts] = {}


def _rows(tickets: list[dict[str, Any]]) -> SafeString:
    """The table's rows as one string: a template loop over 50 rows was a tenth of its time."""
    cache: dict = {}
    now = timezone.now()  # one instant for every row
    starts = _RowStarts.current()
    words = _DueCellWords.current()
    rows = []
    for ticket in tickets:
        rows += (
            starts.start(ticket),
            words.cell(*_clock_state(ticket, RESPONSE, cache, now)),
            ROW_MIDDLE,
            words.cell(*_clock_state(ticket, RESOLUTION, cache, now)),
            ROW_END,
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value escaped (or built safe)


# templates/queue/_filters.html, kept per process under all it shows: rendering its six fields
# was a twentieth of the page, and agents come back to the same filters.
FILTER_FORMS_KEPT = 256
_filter_forms: dict[Hashable, SafeString] = {}


def _filters_html(queue_filter: QueueFilter, department: QueueDepartment) -> SafeString:
    """The filter form as templates/queue/_filters.html renders it (from `filter` and
    `department` only), for the filter's language, data and choices (`QueueFilter.key`)."""
    key = (queue_filter.key, get_script_prefix(), department)
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
    queue_filter = QueueFilter(request.GET, services=services, agents=agents)
    sort = queue_filter.chosen_sort
    cursor = request.GET.get("after", "")
    after = _parsed_cursor(sort, cursor) if cursor else None
    cursor_error = bool(cursor) and after is None

    headed, provided = headed_department_ids(request.user), provider_department_ids(request.user)
    # "Assigned to me" is the viewer's own page: their id stays in its SQL, where PostgreSQL
    # plans with the number of tickets they hold (bound, its generic plan took twice as long).
    own = request.user.pk if ("assignee", ME) in queue_filter.applied else None
    bound = {} if own else {"user_id": request.user.pk}

    def page_rows(user_id: int = request.user.pk, **after: Any) -> QuerySet:
        tickets = selectors.visible_tickets_of(user_id, headed=headed, provided=provided)
        # Invalid filter values are reported on the form; the valid ones still apply.
        page_qs = queue_filter.filter(
            tickets.filter(provider_department_id=department.pk), user_id=user_id
        )
        page_qs = _ordered(page_qs, sort)
        if after:
            page_qs = _after(page_qs, sort, **after)
        return selectors.queue_rows(page_qs)[: PAGE_SIZE + 1]

    # All the page's query depends on but the user's id and the cursor's values, which each
    # run binds: the agents and heads of the same departments share it. The departments' ids
    # stay in the SQL: there PostgreSQL sees that the page's department is one the user serves
    # and reads the department's due-time index alone; bound, its generic plan read every open
    # ticket of the department (150 ms at a million tickets) and a fresh plan took 0.6 ms.
    key = (
        "queue-rows",
        tuple(sorted(headed)),
        tuple(sorted(provided)),
        own,
        department.pk,
        queue_filter.applied,
        sort,
        tuple(after or ()),
        PAGE_SIZE,
    )
    page = fetch(key, page_rows, **bound, **(after or {}))
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
    context["filters"] = _filters_html(queue_filter, department)
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
