"""Every write the business cares about on tickets: filing, transitions, comments, attachments.

Each function takes keyword arguments, runs in one transaction, records TicketEvents and
schedules side effects (notifications) with `transaction.on_commit`. Callers resolve the
ticket through `selectors.visible_tickets` first; these functions check the actor's right to
act and lock the ticket row (`SELECT ... FOR UPDATE`) so concurrent writes serialise.
"""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from departments.models import User
from departments.selectors import department_staff, is_agent_of
from servicedesk.errors import InvalidInput, InvalidTransition, NotAllowed
from servicedesk.statements import Statement, slot
from slas import clocks, figures

from . import filing, workflow
from .form_schema import SchemaError, clean_answers, validate_schema
from .models import Attachment, Comment, Priority, Service, Status, Ticket, TicketEvent
from .notifications import MAILED_KINDS, mail_grace
from .rendering import render_markdown
from .selectors import actor_roles, can_request
from .uploads import UploadRejected, check_upload

FIRST_RESPONSE_STATUSES = (Status.IN_PROGRESS, Status.WAITING, Status.RESOLVED)
# What a first response changes on the ticket (the moment and the SLA clock).
CLOCK_FIELDS = [
    "first_response_at",
    "response_business_seconds",
    "response_breached",
    "next_sla_check_at",
]


def _next_reference(*, department_id: int, code: str, year: int) -> str:
    """Reserve the next number for (department, year) with one atomic upsert (no gaps race)."""
    with connection.cursor() as cursor:
        cursor.execute(filing.NUMBER_SQL, [department_id, year])
        (number,) = cursor.fetchone()
    return filing.reference_of(code, year, number)


_notifications_muted: ContextVar[bool] = ContextVar("notifications_muted", default=False)


@contextmanager
def notifications_muted() -> Iterator[None]:
    """Record events without notifying anyone (loading history, imports)."""
    token = _notifications_muted.set(True)
    try:
        yield
    finally:
        _notifications_muted.reset(token)


def record_event(
    ticket: Ticket,
    kind: str,
    *,
    actor: User | None,
    at: datetime,
    from_value: str = "",
    to_value: str = "",
    internal: bool = False,
    comment: Comment | None = None,
    save: bool = True,
) -> TicketEvent:
    """The event, saved, its email sent once the transaction commits if it is mailed. Not
    `save`: unsaved, for a caller that writes it with other rows (tickets.filing) and then
    calls `_notify_on_commit`."""
    mailed = not internal and not _notifications_muted.get() and kind in MAILED_KINDS
    event = TicketEvent(
        ticket=ticket,
        kind=kind,
        actor=actor,
        at=at,
        from_value=from_value or "",
        to_value=to_value or "",
        internal=internal,
        comment=comment,
        # The outbox marker, written with the event: if the enqueue below never reaches a
        # worker (broker down), the periodic sweep sends it once this time has passed.
        mail_due_at=timezone.now() + mail_grace() if mailed else None,
    )
    if save:
        event.save(force_insert=True)
        _notify_on_commit(event)
    return event


def _notify_on_commit(event: TicketEvent) -> None:
    """Mail a saved event's notifications once the transaction commits (if it is mailed)."""
    if event.mail_due_at is not None:
        transaction.on_commit(lambda: _enqueue_notification(event.pk))


def _enqueue_notification(event_id: int) -> None:
    from .tasks import notify_ticket_event

    # After the response: the event's `mail_due_at` is the outbox if the publish never happens.
    notify_ticket_event.enqueue_after_response(event_id)


@cache
def _locked_ticket() -> Statement:
    # Compiled once per process: building the query cost more than running it, on every write.
    return Statement(Ticket.objects.select_for_update().filter(pk=slot(0)), pk=slot(0))


def _lock(ticket: Ticket) -> Ticket:
    """The ticket read again and locked (`SELECT ... FOR UPDATE`) till the transaction ends."""
    locked = _locked_ticket().instances(pk=ticket.pk)
    if not locked:
        raise Ticket.DoesNotExist("Ticket matching query does not exist.")
    return locked[0]


def _mark_first_response(
    ticket: Ticket, *, actor: User | None, at: datetime, next_check: bool = True
) -> None:
    if ticket.first_response_at is None:
        ticket.first_response_at = at
        record_event(ticket, TicketEvent.Kind.FIRST_RESPONSE, actor=actor, at=at)
        clocks.on_first_response(ticket, at=at, next_check=next_check)


def _check_assignee(ticket: Ticket, assignee: User | None) -> None:
    if assignee is None:
        return
    if not assignee.is_active or not is_agent_of(assignee, ticket.provider_department_id):
        raise InvalidInput({"assignee": [_("must be an agent of the provider department")]})


@transaction.atomic
def file_ticket(
    *,
    requester: User,
    service: Service,
    title: str,
    description: str = "",
    priority: str | None = None,
    form_data: dict[str, Any] | None = None,
    source: str = Ticket.Source.WEB,
    at: datetime | None = None,
) -> Ticket:
    """File a request to a service for the requester's home department."""
    errors: dict[str, list[str]] = {}
    if not service.is_active or not service.department.is_active:
        errors["service"] = [_("this service is not available")]
    elif not can_request(requester, service):
        errors["service"] = [_("your department may not request this service")]
    title = (title or "").strip()
    if not title:
        errors["title"] = [_("this field is required")]
    elif len(title) > 200:
        errors["title"] = [_("must be at most 200 characters")]
    if priority is not None and priority not in Priority.values:
        errors["priority"] = [_("must be one of: %s") % ", ".join(Priority.values)]
    cleaned, answer_errors = clean_answers(service.form_schema, form_data, translate=_)
    for key, message in answer_errors.items():
        errors["form_data" if key == "form_data" else f"form_data.{key}"] = [message]
    if errors:
        raise InvalidInput(errors)

    now = at or timezone.now()
    year = now.astimezone(ZoneInfo(settings.TIME_ZONE)).year
    department = service.department
    ticket = Ticket(
        title=title,
        description=description or "",
        service=service,
        provider_department=department,
        requester=requester,
        requester_department_id=requester.department_id,
        priority=priority or service.default_priority,
        form_data=cleaned,
        source=source,
        created_at=now,
    )
    clocks.start_clocks(ticket, at=now)
    # The number last: its row stays locked until commit, so concurrent filings to the same
    # department wait only for the inserts, not for the SLA work above.
    if filing.available():  # all of it in one statement
        event = record_event(
            ticket,
            TicketEvent.Kind.CREATED,
            actor=requester,
            at=now,
            to_value=ticket.status,
            save=False,
        )
        entries = figures.changed_entries(ticket, counted_before=None)
        filing.insert(ticket, event, code=department.code, year=year, entries=entries)
        _notify_on_commit(event)
        return ticket
    ticket.reference = _next_reference(department_id=department.pk, code=department.code, year=year)
    ticket.save()
    record_event(ticket, TicketEvent.Kind.CREATED, actor=requester, at=now, to_value=ticket.status)
    figures.ticket_changed(ticket, counted_before=None)
    return ticket


@transaction.atomic
def transition_ticket(
    *,
    ticket: Ticket,
    actor: User | None,
    status: str,
    assignee: User | None = None,
    comment: str = "",
    system: bool = False,
) -> Ticket:
    """Move a ticket to `status` if the status machine lets this actor do it.

    `system=True` acts as the automatic side (requester's reply, auto-close).
    """
    ticket = _lock(ticket)
    counted_before = figures.open_key(ticket)
    roles = frozenset({workflow.SYSTEM}) if system else actor_roles(actor, ticket)
    source = ticket.status
    if status not in Status.values:
        raise InvalidInput({"status": [_("unknown status %s") % status]})
    if not workflow.is_allowed(source, status, roles):
        if not system and not roles:
            raise NotAllowed(_("You may not act on this ticket."))
        raise InvalidTransition(
            _("A ticket cannot move from %(source)s to %(target)s by you.")
            % {"source": source, "target": status},
            from_status=source,
            to_status=status,
            allowed=workflow.allowed_targets(source, roles),
        )
    comment = _clean_body(comment) if comment and comment.strip() else ""
    if (
        source == Status.RESOLVED
        and status == Status.IN_PROGRESS
        and not roles & {workflow.AGENT, workflow.HEAD}
        and ticket.resolved_at is not None
        and timezone.now() - ticket.resolved_at > timedelta(days=settings.TICKET_REOPEN_WINDOW_DAYS)
    ):
        raise InvalidTransition(
            _("The reopen window of %(days)s days has passed; please file a new request.")
            % {"days": settings.TICKET_REOPEN_WINDOW_DAYS},
            from_status=source,
            to_status=status,
        )
    now = timezone.now()
    if status == Status.ASSIGNED and assignee is None and ticket.assignee_id is None:
        if workflow.AGENT in roles and actor is not None:
            assignee = actor
        else:
            raise InvalidInput({"assignee": [_("an assignee is required to assign a ticket")]})
    if assignee is not None and assignee.pk != ticket.assignee_id:
        _check_assignee(ticket, assignee)
        previous = ticket.assignee
        ticket.assignee = assignee
        record_event(
            ticket,
            TicketEvent.Kind.ASSIGNED,
            actor=actor,
            at=now,
            from_value=previous.username if previous else "",
            to_value=assignee.username,
        )
    if status == Status.IN_PROGRESS and ticket.assignee_id is None and workflow.AGENT in roles:
        ticket.assignee = actor

    ticket.status = status
    record_event(
        ticket,
        TicketEvent.Kind.STATUS_CHANGED,
        actor=actor,
        at=now,
        from_value=source,
        to_value=status,
    )
    provider_move = bool(roles & {workflow.AGENT, workflow.HEAD}) and not system
    if provider_move and status in FIRST_RESPONSE_STATUSES:
        # on_status_change below sets the next SLA check: no need to work it out twice.
        _mark_first_response(ticket, actor=actor, at=now, next_check=False)
    if status == Status.RESOLVED:
        ticket.resolved_at = now
        resolved_event = record_event(ticket, TicketEvent.Kind.RESOLVED, actor=actor, at=now)
    elif source == Status.RESOLVED and status == Status.IN_PROGRESS:
        ticket.resolved_at = None
        record_event(ticket, TicketEvent.Kind.REOPENED, actor=actor, at=now)
    elif status == Status.CLOSED:
        ticket.closed_at = now
    clocks.on_status_change(ticket, source=source, target=status, at=now)
    ticket.save()
    figures.ticket_changed(ticket, counted_before=counted_before)
    if status == Status.RESOLVED and not _notifications_muted.get():
        # Ask the requester to rate, in this transaction (outbox rows survive a broker outage).
        from feedback.ratings import request_rating

        request_rating(ticket_id=ticket.pk, resolved_event_id=resolved_event.pk)
    if comment:
        # A remark that goes with the move (a resolution note, why it was cancelled): it is
        # written even when the move finishes the ticket.
        _write_comment(ticket, author=actor, body=comment, internal=False, roles=roles, at=now)
    return ticket


@transaction.atomic
def update_ticket(
    *,
    ticket: Ticket,
    actor: User,
    title: str | None = None,
    description: str | None = None,
    priority: str | None = None,
    assignee: User | None = None,
    unassign: bool = False,
) -> Ticket:
    """Edit: title/description by the requester while new; priority/assignee by the provider."""
    ticket = _lock(ticket)
    counted_before = figures.open_key(ticket)
    roles = actor_roles(actor, ticket)
    provider = bool(roles & {workflow.AGENT, workflow.HEAD})
    errors: dict[str, list[str]] = {}
    now = timezone.now()
    if title is not None or description is not None:
        if workflow.REQUESTER not in roles:
            raise NotAllowed(_("Only the requester may edit the title and description."))
        if ticket.status != Status.NEW:
            raise InvalidTransition(
                _("Title and description can only be edited while the ticket is new."),
                from_status=ticket.status,
            )
        if title is not None:
            title = title.strip()
            if not title:
                errors["title"] = [_("this field is required")]
            elif len(title) > 200:
                errors["title"] = [_("must be at most 200 characters")]
    if priority is not None or assignee is not None or unassign:
        if not provider:
            raise NotAllowed(_("Only the provider department may change priority or assignee."))
        if not ticket.is_open:
            raise InvalidTransition(
                _("A ticket that is no longer open cannot be changed."), from_status=ticket.status
            )
        if priority is not None and priority not in Priority.values:
            errors["priority"] = [_("must be one of: %s") % ", ".join(Priority.values)]
    if errors:
        raise InvalidInput(errors)

    changed = False
    if title is not None and title != ticket.title:
        record_event(
            ticket,
            TicketEvent.Kind.UPDATED,
            actor=actor,
            at=now,
            from_value="title",
            to_value=title[:200],
        )
        ticket.title = title
        changed = True
    if description is not None and description != ticket.description:
        record_event(ticket, TicketEvent.Kind.UPDATED, actor=actor, at=now, to_value="description")
        ticket.description = description
        changed = True
    if priority is not None and priority != ticket.priority:
        record_event(
            ticket,
            TicketEvent.Kind.PRIORITY_CHANGED,
            actor=actor,
            at=now,
            from_value=ticket.priority,
            to_value=priority,
        )
        ticket.priority = priority
        clocks.on_priority_change(ticket)
        changed = True
    if assignee is not None and assignee.pk != ticket.assignee_id:
        _check_assignee(ticket, assignee)
        record_event(
            ticket,
            TicketEvent.Kind.ASSIGNED,
            actor=actor,
            at=now,
            from_value=ticket.assignee.username if ticket.assignee else "",
            to_value=assignee.username,
        )
        ticket.assignee = assignee
        if ticket.status == Status.NEW:
            ticket.status = Status.ASSIGNED
            record_event(
                ticket,
                TicketEvent.Kind.STATUS_CHANGED,
                actor=actor,
                at=now,
                from_value=Status.NEW,
                to_value=Status.ASSIGNED,
            )
        changed = True
    elif unassign and ticket.assignee_id is not None:
        record_event(
            ticket,
            TicketEvent.Kind.ASSIGNED,
            actor=actor,
            at=now,
            from_value=ticket.assignee.username,
            to_value="",
        )
        ticket.assignee = None
        changed = True
    if changed:
        ticket.save()
        figures.ticket_changed(ticket, counted_before=counted_before)
    return ticket


@transaction.atomic
def add_comment(
    *,
    ticket: Ticket,
    author: User | None,
    body: str,
    internal: bool = False,
) -> Comment:
    """Reply on a ticket. Internal notes are for the provider side only.

    A public reply by the provider is a first response; a reply by the requester while the
    ticket waits on them puts it back in progress.
    """
    ticket = _lock(ticket)
    roles = actor_roles(author, ticket) if author is not None else frozenset()
    provider = bool(roles & {workflow.AGENT, workflow.HEAD})
    if author is not None and not roles:
        raise NotAllowed(_("You may not comment on this ticket."))
    body = _clean_body(body)
    if internal and not provider:
        raise NotAllowed(_("Only the provider department may write internal notes."))
    if ticket.status in (Status.CLOSED, Status.CANCELLED) and not internal:
        raise InvalidTransition(
            _("This ticket is finished; open a new request instead."), from_status=ticket.status
        )
    comment = _write_comment(
        ticket, author=author, body=body, internal=internal, roles=roles, at=timezone.now()
    )
    if not provider and workflow.REQUESTER in roles and ticket.status == Status.WAITING:
        transition_ticket(ticket=ticket, actor=author, status=Status.IN_PROGRESS, system=True)
    return comment


def _clean_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise InvalidInput({"body": [_("this field is required")]})
    if len(body) > 20000:
        raise InvalidInput({"body": [_("must be at most 20000 characters")]})
    if "\x00" in body:
        raise InvalidInput({"body": [_("must not contain NUL characters")]})
    return body


def _write_comment(
    ticket: Ticket,
    *,
    author: User | None,
    body: str,
    internal: bool,
    roles: frozenset[str],
    at: datetime,
) -> Comment:
    """Store a checked comment on a locked ticket; a public provider reply is a first response."""
    comment = Comment.objects.create(
        ticket=ticket, author=author, body=body, body_html=render_markdown(body), internal=internal
    )
    record_event(
        ticket, TicketEvent.Kind.COMMENTED, actor=author, at=at, internal=internal, comment=comment
    )
    update_fields = ["updated_at"]
    if roles & {workflow.AGENT, workflow.HEAD} and not internal and not ticket.first_response_at:
        _mark_first_response(ticket, actor=author, at=at)
        update_fields += CLOCK_FIELDS
        figures.tickets_touched([ticket])  # the response clock stopped
    ticket.save(update_fields=update_fields)
    return comment


@transaction.atomic
def add_attachment(
    *,
    ticket: Ticket,
    uploaded_by: User,
    upload: UploadedFile,
    internal: bool = False,
) -> Attachment:
    """Attach a file after checking its size, type and name; internal files are provider-only."""
    ticket = _lock(ticket)
    roles = actor_roles(uploaded_by, ticket)
    if not roles:
        raise NotAllowed(_("You may not add files to this ticket."))
    if internal and not roles & {workflow.AGENT, workflow.HEAD}:
        raise NotAllowed(_("Only the provider department may add internal files."))
    if ticket.status in (Status.CLOSED, Status.CANCELLED):
        raise InvalidTransition(_("This ticket is finished."), from_status=ticket.status)
    try:
        checked = check_upload(
            upload.name or "", upload, upload.size or 0, settings.ATTACHMENT_MAX_BYTES
        )
    except UploadRejected as rejected:
        raise InvalidInput({"file": [str(rejected)]}) from None
    attachment = Attachment(
        ticket=ticket,
        uploaded_by=uploaded_by,
        token=secrets.token_hex(16),
        extension=checked.extension,
        filename=checked.filename,
        content_type=checked.content_type,
        size=checked.size,
        internal=internal,
    )
    attachment.file.save(attachment.token + checked.extension, upload, save=False)
    try:
        attachment.save()
        record_event(
            ticket,
            TicketEvent.Kind.ATTACHED,
            actor=uploaded_by,
            at=timezone.now(),
            to_value=checked.filename,
            internal=internal,
        )
        Ticket.objects.filter(pk=ticket.pk).update(updated_at=timezone.now())
    except Exception:
        # The row did not make it: the stored file must not stay behind as an orphan.
        attachment.file.delete(save=False)
        raise
    return attachment


def agents_of(department_id: int) -> list[User]:
    return list(department_staff(department_id))


@transaction.atomic
def save_service(*, actor: User, service: Service | None = None, **fields: Any) -> Service:
    """Create or edit a catalog entry: admins, or heads of the service's department."""
    from departments.selectors import is_head_of

    allowed_consumers = fields.pop("allowed_consumers", None)
    if "form_schema" in fields:
        try:
            fields["form_schema"] = validate_schema(fields["form_schema"])
        except SchemaError as error:
            raise InvalidInput(
                {"form_schema": [f"{k}: {v}" for k, v in error.errors.items()]}
            ) from None
    service = service or Service()
    departments = {fields.get("department", getattr(service, "department", None))}
    if service.pk:
        departments.add(service.department)
    if not actor.is_staff and not all(
        d is not None and is_head_of(actor, d.pk) for d in departments
    ):
        raise NotAllowed(_("Only admins and heads of the department may edit its services."))
    for name, value in fields.items():
        setattr(service, name, value)
    service.save()
    if allowed_consumers is not None:
        service.allowed_consumers.set(allowed_consumers)
    return service
