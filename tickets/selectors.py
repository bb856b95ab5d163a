"""Read queries for the catalog and tickets. The visibility rule lives here, once.

A requester sees their own tickets; a head of a department sees that department's tickets as
consumer; agents and heads of the provider see the provider's tickets; nobody else sees a ticket.
Internal notes are for the provider side only.
"""

from django.db.models import Q, QuerySet

from departments.models import User
from departments.selectors import headed_department_ids, provider_department_ids

from .models import Attachment, Comment, Service, Ticket, TicketEvent
from .workflow import AGENT, HEAD, REQUESTER


def visible_tickets(user: User) -> QuerySet[Ticket]:
    if not user.is_authenticated:
        return Ticket.objects.none()
    condition = Q(requester_id=user.pk)
    headed = headed_department_ids(user)
    if headed:
        condition |= Q(requester_department_id__in=headed)
    provided = provider_department_ids(user)
    if provided:
        condition |= Q(provider_department_id__in=provided)
    return Ticket.objects.filter(condition)


def ticket_list(user: User) -> QuerySet[Ticket]:
    """Visible tickets with what a list row shows, in a fixed number of queries."""
    return visible_tickets(user).select_related(
        "service", "provider_department", "requester_department", "requester", "assignee"
    )


def is_provider_side(user: User, ticket: Ticket) -> bool:
    return ticket.provider_department_id in provider_department_ids(user)


def actor_roles(user: User, ticket: Ticket) -> frozenset[str]:
    """The workflow roles a user holds on a ticket (a user may hold several)."""
    roles: set[str] = set()
    if ticket.requester_id == user.pk:
        roles.add(REQUESTER)
    if ticket.provider_department_id in provider_department_ids(user):
        roles.add(AGENT)
    if ticket.provider_department_id in headed_department_ids(user):
        roles.add(HEAD)
    return frozenset(roles)


def ticket_comments(user: User, ticket: Ticket) -> QuerySet[Comment]:
    comments = ticket.comments.select_related("author").prefetch_related("attachments")
    if not is_provider_side(user, ticket):
        comments = comments.filter(internal=False)
    return comments.order_by("created_at", "id")


def ticket_events(user: User, ticket: Ticket) -> QuerySet[TicketEvent]:
    events = ticket.events.select_related("actor")
    if not is_provider_side(user, ticket):
        events = events.filter(internal=False)
    return events


def ticket_attachments(user: User, ticket: Ticket) -> QuerySet[Attachment]:
    attachments = ticket.attachments.select_related("uploaded_by")
    if not is_provider_side(user, ticket):
        attachments = attachments.filter(internal=False)
    return attachments.order_by("created_at", "id")


def requestable_services(user: User) -> QuerySet[Service]:
    """Active services of active departments that the user's home department may request."""
    services = Service.objects.filter(is_active=True, department__is_active=True)
    if user.department_id is None:
        return services.filter(allowed_consumers__isnull=True)
    return services.filter(
        Q(allowed_consumers__isnull=True) | Q(allowed_consumers=user.department_id)
    ).distinct()


def can_request(user: User, service: Service) -> bool:
    return requestable_services(user).filter(pk=service.pk).exists()
