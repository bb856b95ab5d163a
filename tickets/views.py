"""Pages (a first, small set; the full portal is built on the same selectors)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _

from slas.clocks import remaining_minutes

from . import selectors
from .models import OPEN_STATUSES, Ticket


@login_required
def home(request: HttpRequest) -> HttpResponse:
    my_open = (
        selectors.ticket_list(request.user)
        .filter(requester=request.user, status__in=OPEN_STATUSES)
        .order_by("-created_at", "-id")[:20]
    )
    return render(request, "tickets/home.html", {"my_open": my_open})


@login_required
def ticket_detail(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = get_object_or_404(selectors.ticket_list(request.user), reference=reference)
    return render(
        request,
        "tickets/ticket_detail.html",
        {
            "ticket": ticket,
            "clocks": _clocks(ticket),
            "comments": selectors.ticket_comments(request.user, ticket)[:500],
            "events": selectors.ticket_events(request.user, ticket)[:500],
            "provider_side": selectors.is_provider_side(request.user, ticket),
        },
    )


def _clocks(ticket: Ticket) -> list[dict]:
    """Due times with the business time left (or overdue) for the ticket page."""
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
                "breached": breached,
                "left": left if left is not None and left >= 0 else None,
                "overdue": -left if left is not None and left < 0 else None,
            }
        )
    return rows
