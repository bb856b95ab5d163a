"""Employee and agent pages: home, catalog, request form, my requests and the ticket page.

Reads go through `tickets.selectors`, writes through `tickets.services`; the status machine
decides which transition buttons a page shows.
"""

import html
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from departments.models import Department, User, person_name
from departments.selectors import department_staff
from feedback.rating_views import ticket_panels
from servicedesk.errors import DomainError, InvalidInput
from servicedesk.statements import fetch
from slas.clocks import promise_for, remaining_minutes

from . import selectors, services, workflow
from .dates import ShortDatetimes
from .forms import ReplyForm, TicketEditForm, TicketRequestForm, TicketUpdateForm
from .models import OPEN_STATUSES, Service, Status, Ticket, TicketEvent

PAGE_SIZE = 25
CATALOG_PAGE_SIZE = 100

# The button text for a move, by (from, to); a target alone is the fallback.
TRANSITION_LABELS: dict[tuple[str | None, str], Any] = {
    (None, Status.ASSIGNED): gettext_lazy("Assign"),
    (None, Status.IN_PROGRESS): gettext_lazy("Start"),
    (Status.WAITING, Status.IN_PROGRESS): gettext_lazy("Resume"),
    (Status.RESOLVED, Status.IN_PROGRESS): gettext_lazy("Reopen"),
    (None, Status.WAITING): gettext_lazy("Wait on requester"),
    (None, Status.RESOLVED): gettext_lazy("Resolve"),
    (None, Status.CLOSED): gettext_lazy("Confirm & close"),
    (None, Status.CANCELLED): gettext_lazy("Cancel request"),
}


def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


def _pager_query(**params: str) -> str:
    """The current filters as a query-string prefix for the pager's links."""
    kept = {k: v for k, v in params.items() if v}
    return f"{urlencode(kept)}&" if kept else ""


def _bounded_page(queryset: QuerySet, page: int, size: int) -> tuple[list, bool]:
    """One page by slicing `size + 1` rows: tells whether a next page exists without COUNT(*)."""
    start = (page - 1) * size
    rows = list(queryset[start : start + size + 1])
    return rows[:size], len(rows) > size


@login_required
def home(request: HttpRequest) -> HttpResponse:
    my_open = (
        selectors.ticket_list(request.user)
        .filter(requester=request.user, status__in=OPEN_STATUSES)
        .order_by("-created_at", "-id")[:20]
    )
    return render(request, "tickets/home.html", {"my_open": my_open})


@login_required
def catalog(request: HttpRequest) -> HttpResponse:
    requestable = selectors.requestable_services(request.user)
    services_qs = requestable.select_related("department")
    query = request.GET.get("q", "").strip()[:100]
    if query:
        services_qs = services_qs.filter(
            Q(name__icontains=query)
            | Q(description__icontains=query)
            | Q(category__icontains=query)
        )
    department_id = request.GET.get("department", "")
    if department_id.isdigit():
        services_qs = services_qs.filter(department_id=int(department_id))
    else:
        department_id = ""
    services_qs = services_qs.order_by("department__name", "department_id", "category", "name")
    page = _page_number(request)
    rows, has_next = _bounded_page(services_qs, page, CATALOG_PAGE_SIZE)
    departments = Department.objects.filter(pk__in=requestable.values("department_id")).order_by(
        "name"
    )
    return render(
        request,
        "tickets/catalog.html",
        {
            "services": rows,
            "query": query,
            "department_id": department_id,
            "departments": departments,
            "page": page,
            "has_next": has_next,
            "pager_query": _pager_query(q=query, department=department_id),
        },
    )


@login_required
def request_service(request: HttpRequest, service_id: int) -> HttpResponse:
    user = request.user
    service = get_object_or_404(
        selectors.requestable_services(user).select_related("department"), pk=service_id
    )
    if request.method == "POST":
        form = TicketRequestForm(request.POST, request.FILES, service=service)
        if form.is_valid():
            try:
                ticket = _file_from_form(user, service, form)
            except InvalidInput as error:
                form.apply_service_errors(error)
            else:
                messages.success(request, _("Your request %s was filed.") % ticket.reference)
                return redirect("ticket-detail", reference=ticket.reference)
        status = 400
    else:
        form = TicketRequestForm(service=service)
        status = 200
    priority = form.data.get("priority") or service.default_priority
    if priority not in dict(form.fields["priority"].choices):
        priority = service.default_priority
    promise = promise_for(
        service=service,
        priority=priority,
        at=timezone.now(),
        consumer_department_id=user.department_id,
    )
    return render(
        request,
        "tickets/request_form.html",
        {"service": service, "form": form, "promise": promise},
        status=status,
    )


@transaction.atomic
def _file_from_form(user: User, service: Service, form: TicketRequestForm) -> Ticket:
    """File the ticket and its file together: a refused file files nothing."""
    ticket = services.file_ticket(
        requester=user,
        service=service,
        title=form.cleaned_data["title"],
        description=form.cleaned_data.get("description") or "",
        priority=form.cleaned_data["priority"],
        form_data=form.answers(),
    )
    upload = form.cleaned_data.get("attachment")
    if upload:
        services.add_attachment(ticket=ticket, uploaded_by=user, upload=upload)
    return ticket


REQUEST_STATUS_FILTERS = {
    "open": OPEN_STATUSES,
    "closed": (Status.RESOLVED, Status.CLOSED, Status.CANCELLED),
}


@login_required
def my_requests(request: HttpRequest) -> HttpResponse:
    tickets = selectors.ticket_list(request.user).filter(requester=request.user)
    status = request.GET.get("status", "open")
    if status not in ("open", "closed", "all"):
        status = "open"
    if status in REQUEST_STATUS_FILTERS:
        tickets = tickets.filter(status__in=REQUEST_STATUS_FILTERS[status])
    query = request.GET.get("q", "").strip()[:100]
    if query:
        tickets = tickets.filter(Q(reference__icontains=query) | Q(title__icontains=query))
    page = _page_number(request)
    rows, has_next = _bounded_page(tickets.order_by("-created_at", "-id"), page, PAGE_SIZE)
    return render(
        request,
        "tickets/my_requests.html",
        {
            "tickets": rows,
            "status": status,
            "query": query,
            "page": page,
            "has_next": has_next,
            "pager_query": _pager_query(status=status, q=query),
            "status_filters": [
                ("open", _("Open")),
                ("closed", _("Finished")),
                ("all", _("All")),
            ],
        },
    )


def _visible_ticket(request: HttpRequest, reference: str) -> Ticket:
    return get_object_or_404(selectors.ticket_list(request.user), reference=reference)


def _ticket_to_show(request: HttpRequest, reference: str) -> Ticket:
    """The visible ticket with what its page shows (`selectors.ticket_to_show`), else 404."""
    ticket = selectors.ticket_to_show(request.user, reference)
    if ticket is None:
        raise Http404
    return ticket


@login_required
def ticket_detail(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = _ticket_to_show(request, reference)
    return _render_ticket(request, ticket)


def _render_ticket(
    request: HttpRequest,
    ticket: Ticket,
    *,
    reply_form: ReplyForm | None = None,
    update_form: TicketUpdateForm | None = None,
    edit_form: TicketEditForm | None = None,
    error: str = "",
    status: int = 200,
    transition_comment: str = "",
) -> HttpResponse:
    user = request.user
    provider_side = selectors.is_provider_side(user, ticket)
    roles = selectors.actor_roles(user, ticket)
    agents = _provider_agents(ticket) if provider_side else []
    can_reply = bool(roles) and ticket.status not in (Status.CLOSED, Status.CANCELLED)
    if reply_form is None and can_reply:  # the form shows only then
        reply_form = ReplyForm(provider_side=provider_side)
    if update_form is None and provider_side:
        update_form = TicketUpdateForm(
            agents=agents,
            initial={"priority": ticket.priority, "assignee": ticket.assignee_id},
        )
    can_edit = workflow.REQUESTER in roles and ticket.status == Status.NEW
    if edit_form is None and can_edit:
        edit_form = TicketEditForm(
            initial={"title": ticket.title, "description": ticket.description}
        )
    transitions = _transition_actions(ticket, roles)
    choose_assignee = any(action["needs_assignee"] for action in transitions)
    dates = ShortDatetimes.current()  # the page's times as it writes them
    return render(
        request,
        "tickets/ticket_detail.html",
        {
            "ticket": ticket,
            "clocks": _clocks(ticket, dates),
            "answers": _labelled_answers(ticket),
            # The page lists the files on their own, not under their comments.
            "comments": _comments(selectors.ticket_page_comments(user, ticket, limit=500), dates),
            "events": _timeline(selectors.ticket_page_events(user, ticket, limit=500), dates),
            "attachments": selectors.ticket_page_attachments(user, ticket, limit=200),
            "provider_side": provider_side,
            "transitions": transitions,
            # Built and escaped here: a template loop over the agents was half of the form.
            "assignee_options": _assignee_options(agents, user.pk) if choose_assignee else "",
            "reply_form": reply_form,
            "update_form": update_form,
            "edit_form": edit_form if can_edit else None,
            "transition_comment": transition_comment,
            "can_reply": can_reply,
            "error": error,
            **ticket_panels(request, ticket),  # rating and kudos sections (feedback app)
        },
        status=status,
    )


def _labelled_answers(ticket: Ticket) -> list[tuple[str, Any]]:
    """The form answers under the labels the requester saw (keys the schema lost stay as keys)."""
    answers = dict(ticket.form_data or {})
    rows = []
    for spec in ticket.service.form_schema or []:
        if spec["key"] in answers:
            rows.append((spec.get("label") or spec["key"], answers.pop(spec["key"])))
    return rows + list(answers.items())


def _provider_agents(ticket: Ticket) -> list[tuple[int, str]]:
    """The provider department's active agents and heads (`department_staff`) as (id, str(user))
    choices, heads and agents each by username."""

    def staff(department_id: int) -> QuerySet:
        # Only what a choice shows: no user objects with every column to build.
        people = department_staff(department_id).order_by("memberships__role", "username")
        return people.values("id", "first_name", "last_name", "username")

    # Compiled once per department (servicedesk.statements), with its id in the SQL: bound, the
    # generic plan was estimated dearer than a fresh one, and PostgreSQL planned it at every page.
    department_id = ticket.provider_department_id
    return [
        (row["id"], person_name(row["first_name"], row["last_name"], row["username"]))
        for row in fetch(("ticket-page-staff", department_id), lambda: staff(department_id))
    ]


def _transition_actions(ticket: Ticket, roles: frozenset[str]) -> list[dict[str, Any]]:
    """The buttons to show: exactly the moves the status machine lets this viewer make."""
    actions = []
    for target in workflow.allowed_targets(ticket.status, roles):
        label = TRANSITION_LABELS.get((ticket.status, target)) or TRANSITION_LABELS.get(
            (None, target), Status(target).label
        )
        actions.append(
            {"target": target, "label": label, "needs_assignee": target == Status.ASSIGNED}
        )
    return actions


def _assignee_options(agents: list[tuple[int, str]], chosen_id: int) -> SafeString:
    """The transition form's assignee choices (`_provider_agents`), the viewer chosen."""
    return mark_safe(  # noqa: S308 - the names escaped, the ids numbers
        "".join(
            f'<option value="{int(agent_id)}"{" selected" if agent_id == chosen_id else ""}>'
            f"{html.escape(name)}</option>"
            for agent_id, name in agents
        )
    )


STATUS_EVENT_KINDS = {TicketEvent.Kind.STATUS_CHANGED, TicketEvent.Kind.CREATED}
PRIORITY_EVENT_KINDS = {TicketEvent.Kind.PRIORITY_CHANGED}


def _comments(comments: list[dict[str, Any]], dates: ShortDatetimes) -> list[dict[str, Any]]:
    """Comment rows with their time as the page writes it (`created_text`)."""
    for comment in comments:
        comment["created_text"] = dates.text(comment["created_at"])
    return comments


def _timeline(events: list[dict[str, Any]], dates: ShortDatetimes) -> list[dict[str, Any]]:
    """Event rows with their time as the page writes it (`at_text`), and their kind and
    status/priority codes shown as the translated labels (one dict lookup each:
    `get_FOO_display` hashes the field's choices at every call)."""
    labels = {**dict(Status.choices)}
    priorities = {**dict(Ticket._meta.get_field("priority").choices)}
    kinds = dict(TicketEvent.Kind.choices)
    for event in events:
        event["at_text"] = dates.text(event["at"])
        kind = event["kind"]
        event["kind_display"] = kinds.get(kind, kind)
        table = (
            labels
            if kind in STATUS_EVENT_KINDS
            else priorities
            if kind in PRIORITY_EVENT_KINDS
            else {}
        )
        event["from_display"] = table.get(event["from_value"], event["from_value"])
        event["to_display"] = table.get(event["to_value"], event["to_value"])
    return events


def _domain_error_text(error: DomainError) -> str:
    if isinstance(error, InvalidInput):
        return "; ".join(m for messages_ in error.fields.values() for m in messages_)
    return str(error.detail)


@login_required
@require_POST
def ticket_reply(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = _visible_ticket(request, reference)
    provider_side = selectors.is_provider_side(request.user, ticket)
    form = ReplyForm(request.POST, request.FILES, provider_side=provider_side)
    if form.is_valid():
        internal = bool(form.cleaned_data.get("internal"))
        try:
            with transaction.atomic():
                services.add_comment(
                    ticket=ticket,
                    author=request.user,
                    body=form.cleaned_data["body"],
                    internal=internal,
                )
                upload = form.cleaned_data.get("attachment")
                if upload:
                    services.add_attachment(
                        ticket=ticket, uploaded_by=request.user, upload=upload, internal=internal
                    )
        except InvalidInput as error:
            form.apply_service_errors(error)
        except DomainError as error:
            return _render_ticket(
                request,
                ticket,
                reply_form=form,
                error=_domain_error_text(error),
                status=error.http_status,
            )
        else:
            messages.success(request, _("Your reply was added."))
            return redirect("ticket-detail", reference=ticket.reference)
    return _render_ticket(request, ticket, reply_form=form, status=400)


@login_required
@require_POST
def ticket_transition(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = _visible_ticket(request, reference)
    target = request.POST.get("status", "")
    assignee = None
    assignee_id = request.POST.get("assignee", "")
    # One form carries every action: the assignee choice only goes with "assign".
    if target == Status.ASSIGNED and assignee_id.isdigit():
        assignee = User.objects.filter(pk=int(assignee_id)).first()
    try:
        services.transition_ticket(
            ticket=ticket,
            actor=request.user,
            status=target,
            assignee=assignee,
            comment=request.POST.get("comment", "")[:20000],
        )
    except DomainError as error:
        ticket.refresh_from_db()
        return _render_ticket(
            request,
            ticket,
            error=_domain_error_text(error),
            status=error.http_status,
            transition_comment=request.POST.get("comment", "")[:20000],
        )
    messages.success(request, _("The ticket was updated."))
    return redirect("ticket-detail", reference=ticket.reference)


def _refused_change(
    request: HttpRequest, ticket: Ticket, error: DomainError, **form: Any
) -> HttpResponse:
    """The ticket page again after the service refused a change: each field's message next to
    its field in the one form given (`update_form=` or `edit_form=`), the rest above it."""
    ticket.refresh_from_db()
    ((_name, bound),) = form.items()
    if isinstance(error, InvalidInput):
        for path, messages_ in error.fields.items():
            for message in messages_:
                bound.add_error(path if path in bound.fields else None, message)
    return _render_ticket(
        request, ticket, **form, error=_domain_error_text(error), status=error.http_status
    )


@login_required
@require_POST
def ticket_update(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = _visible_ticket(request, reference)
    if not selectors.is_provider_side(request.user, ticket):
        raise Http404
    form = TicketUpdateForm(request.POST, agents=_provider_agents(ticket))
    if not form.is_valid():
        return _render_ticket(request, ticket, update_form=form, status=400)
    assignee_id = form.cleaned_data.get("assignee")
    try:
        services.update_ticket(
            ticket=ticket,
            actor=request.user,
            priority=form.cleaned_data["priority"],
            assignee=User.objects.get(pk=assignee_id) if assignee_id else None,
            unassign=assignee_id is None,
        )
    except DomainError as error:
        return _refused_change(request, ticket, error, update_form=form)
    messages.success(request, _("The ticket was updated."))
    return redirect("ticket-detail", reference=ticket.reference)


@login_required
@require_POST
def ticket_edit(request: HttpRequest, reference: str) -> HttpResponse:
    """The requester corrects the title or description while nobody has picked the ticket up."""
    ticket = _visible_ticket(request, reference)
    form = TicketEditForm(request.POST)
    if not form.is_valid():
        return _render_ticket(request, ticket, edit_form=form, status=400)
    try:
        services.update_ticket(
            ticket=ticket,
            actor=request.user,
            title=form.cleaned_data["title"],
            description=form.cleaned_data["description"],
        )
    except DomainError as error:
        return _refused_change(request, ticket, error, edit_form=form)
    messages.success(request, _("Your request was updated."))
    return redirect("ticket-detail", reference=ticket.reference)


@login_required
def ticket_clocks(request: HttpRequest, reference: str) -> HttpResponse:
    """The due-time block alone: the ticket page polls it so the time left stays current."""
    ticket = _ticket_to_show(request, reference)
    return render(
        request,
        "tickets/_clocks_block.html",
        {"ticket": ticket, "clocks": _clocks(ticket, ShortDatetimes.current())},
    )


def _clocks(ticket: Ticket, dates: ShortDatetimes) -> list[dict]:
    """Due times (and as the page writes them) with the business time left (or overdue) for
    the ticket page."""
    cache: dict = {}
    rows = []
    for clock, label, due, breached in (
        ("response", _("Respond by"), ticket.response_due_at, ticket.response_breached),
        ("resolution", _("Resolve by"), ticket.resolution_due_at, ticket.resolution_breached),
    ):
        if due is None:
            continue
        left = remaining_minutes(ticket, clock, cache=cache)
        rows.append(
            {
                "label": label,
                "due": due,
                "due_text": dates.text(due),
                "breached": breached,
                "left": left if left is not None and left >= 0 else None,
                "overdue": -left if left is not None and left < 0 else None,
            }
        )
    return rows
