"""Emails about ticket events. Only public events are ever mailed: internal notes never leave
the provider side.

The event row is the outbox: `services.record_event` sets its `mail_due_at` in the event's own
transaction and enqueues `send_event_email` on commit. Sending clears the marker; an event still
marked once its time has passed (the broker was down, a worker died) is enqueued again by the
periodic `requeue_unsent` sweep. Each (event, recipient) is claimed in the database
(EmailDelivery) before sending, so a redelivered or requeued task never mails anyone twice.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from departments.models import User
from departments.selectors import department_staff

from .models import EmailDelivery, TicketEvent

MAILED_KINDS = {
    TicketEvent.Kind.CREATED,
    TicketEvent.Kind.ASSIGNED,
    TicketEvent.Kind.STATUS_CHANGED,
    TicketEvent.Kind.COMMENTED,
}


def mail_grace() -> timedelta:
    """How long the on-commit enqueue gets to deliver before the sweep sends the event again."""
    return timedelta(seconds=settings.TICKET_MAIL_GRACE_SECONDS)


def retry_delay() -> timedelta:
    """How long a pending event waits again after the sweep enqueued it or a send failed."""
    return timedelta(seconds=settings.TICKET_MAIL_RETRY_SECONDS)


def recipients_for(event: TicketEvent) -> list[User]:
    ticket = event.ticket
    people: dict[int, User] = {}
    if event.kind == TicketEvent.Kind.CREATED:
        for user in department_staff(ticket.provider_department_id).exclude(email=""):
            people[user.pk] = user
    else:
        for user in (ticket.requester, ticket.assignee):
            if user is not None and user.is_active and user.email:
                people[user.pk] = user
    people.pop(event.actor_id or 0, None)
    return list(people.values())


def _body(event: TicketEvent) -> tuple[str, str]:
    ticket = event.ticket
    subject = f"[{ticket.reference}] {ticket.title}"
    link = f"{settings.SITE_URL.rstrip('/')}/tickets/{ticket.reference}/"
    actor = str(event.actor) if event.actor else _("Service Desk")
    lines = [f"{ticket.reference} · {ticket.title}", ""]
    if event.kind == TicketEvent.Kind.COMMENTED and event.comment and not event.comment.internal:
        lines += [_("%(actor)s replied:") % {"actor": actor}, "", event.comment.body]
    elif event.kind == TicketEvent.Kind.STATUS_CHANGED:
        lines.append(
            _("%(actor)s changed the status from %(from)s to %(to)s.")
            % {"actor": actor, "from": event.from_value, "to": event.to_value}
        )
    elif event.kind == TicketEvent.Kind.ASSIGNED:
        lines.append(
            _("%(actor)s assigned the ticket to %(to)s.") % {"actor": actor, "to": event.to_value}
        )
    else:
        lines.append(_("%(actor)s filed a new request.") % {"actor": actor})
    lines += ["", link]
    return subject, "\n".join(lines)


def send_event_email(event_id: int) -> int:
    """Mail the event to each recipient not mailed before; returns how many mails went out."""
    event = (
        TicketEvent.objects.select_related(
            "ticket__requester", "ticket__assignee", "actor", "comment"
        )
        .filter(pk=event_id)
        .first()
    )
    if event is None:
        return 0
    if event.internal or event.kind not in MAILED_KINDS:
        _mark_done(event_id)
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        subject, body = _body(event)
    sent = 0
    # Claim, then send at once: a worker killed between the two loses that one email rather
    # than ever sending it twice.
    for recipient in recipients_for(event):
        try:
            with transaction.atomic():
                delivery = EmailDelivery.objects.create(event=event, recipient=recipient)
        except IntegrityError:
            delivery = EmailDelivery.objects.get(event=event, recipient=recipient)
        # Claim: only the worker whose update changed the row sends.
        if (
            EmailDelivery.objects.filter(pk=delivery.pk, sent_at=None).update(
                sent_at=timezone.now()
            )
            != 1
        ):
            continue
        try:
            send_mail(subject, body, None, [recipient.email])
        except Exception:
            # Release the claim and leave the event pending: the sweep tries again later.
            EmailDelivery.objects.filter(pk=delivery.pk).update(sent_at=None)
            TicketEvent.objects.filter(pk=event_id).update(
                mail_due_at=timezone.now() + retry_delay()
            )
            raise
        sent += 1
    _mark_done(event_id)
    return sent


def _mark_done(event_id: int) -> None:
    TicketEvent.objects.filter(pk=event_id, mail_due_at__isnull=False).update(mail_due_at=None)


def _enqueue(event_id: int) -> None:
    from .tasks import notify_ticket_event

    notify_ticket_event.enqueue(event_id)


def requeue_unsent(
    *, now: datetime | None = None, enqueue: Callable[[int], None] | None = None, limit: int = 1000
) -> int:
    """Enqueue again the events whose emails are still pending past their time (the sweep).

    The chosen rows are pushed back by the retry delay in the same statement's transaction (locked
    with SKIP LOCKED, so two sweeps never pick the same event), then enqueued after commit.
    """
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            TicketEvent.objects.select_for_update(skip_locked=True)
            .filter(mail_due_at__lte=now)
            .order_by("mail_due_at")
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            TicketEvent.objects.filter(pk__in=ids).update(mail_due_at=now + retry_delay())
    send = enqueue or _enqueue
    for event_id in ids:
        send(event_id)
    return len(ids)
