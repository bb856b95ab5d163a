"""Emails about ticket events. Only public events are ever mailed: internal notes never leave
the provider side. Each (event, recipient) is claimed in the database before sending, so a
redelivered task does not mail twice."""

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
    event = (
        TicketEvent.objects.select_related(
            "ticket__requester", "ticket__assignee", "actor", "comment"
        )
        .filter(pk=event_id)
        .first()
    )
    if event is None or event.internal or event.kind not in MAILED_KINDS:
        return 0
    sent = 0
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
        with translation.override(settings.LANGUAGE_CODE):
            subject, body = _body(event)
        try:
            send_mail(subject, body, None, [recipient.email])
        except Exception:
            EmailDelivery.objects.filter(pk=delivery.pk).update(sent_at=None)
            raise
        sent += 1
    return sent
