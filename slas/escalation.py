"""Escalation: the sweep that fires due SLA steps, the delivery of their notifications, auto-close.

Exactly once per (ticket, clock, step) is enforced by the unique Escalation row, claimed inside
the ticket's transaction (the ticket row is locked with SKIP LOCKED, so two sweeps never wait on
each other). Notifications use the Escalation row as an outbox: delivery claims it with a
conditional update; a delivery that never ran (broker down, worker killed) is picked up again by
a later sweep through `next_attempt_at`.
"""

import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, connections, transaction
from django.db.models import F, Field, Model, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from departments.models import Membership, User
from departments.selectors import department_staff
from tickets.models import Notification, Status, Ticket, TicketEvent
from tickets.services import transition_ticket

from . import clocks, figures
from .models import Escalation

logger = logging.getLogger(__name__)

MAX_BATCHES = 500  # a sweep handles at most 100,000 tickets; the next sweep takes the rest
DELIVERY_GRACE = timedelta(minutes=2)  # on_commit enqueue normally delivers well before this
RETRY_DELAY = timedelta(minutes=5)


def escalate_due_tickets(
    *, now: datetime | None = None, enqueue: Callable[[int], None] | None = None
) -> int:
    """Fire every SLA step that has come due; returns the number of steps fired.

    Reads the partial index on `next_sla_check_at` in keyset order, so its cost follows the
    number of due tickets, not the number of open ones. Each page of due tickets is handled in
    one transaction with a few bulk statements.
    """
    now = now or timezone.now()
    batch_size = settings.SLA_SWEEP_BATCH_SIZE
    fired = 0
    contexts: dict[int, clocks.ClockContext] = {}  # one policy/calendar load per sweep
    last: tuple[datetime, int] | None = None
    for _batch in range(MAX_BATCHES):
        due = Ticket.objects.filter(next_sla_check_at__lte=now)
        if last is not None:
            due = due.filter(
                Q(next_sla_check_at__gt=last[0]) | Q(next_sla_check_at=last[0], pk__gt=last[1])
            )
        rows = list(
            due.order_by("next_sla_check_at", "pk").values_list("next_sla_check_at", "pk")[
                :batch_size
            ]
        )
        if not rows:
            break
        ids = [ticket_id for _check_at, ticket_id in rows]
        try:
            fired += _escalate_batch(ids, now=now, enqueue=enqueue, contexts=contexts)
        except Exception:
            # One bad ticket must not stop the sweep: retry the page ticket by ticket, and push
            # back only the tickets that fail on their own.
            logger.exception(
                "escalating a page of %s tickets failed; retrying one by one", len(ids)
            )
            for ticket_id in ids:
                try:
                    fired += _escalate_batch(
                        [ticket_id], now=now, enqueue=enqueue, contexts=contexts
                    )
                except Exception:
                    logger.exception("escalating ticket %s failed", ticket_id)
                    Ticket.objects.filter(pk=ticket_id).update(next_sla_check_at=now + RETRY_DELAY)
        last = rows[-1]
    return fired


def escalate_ticket(
    *, ticket_id: int, now: datetime, enqueue: Callable[[int], None] | None = None
) -> int:
    """Fire the due steps of one ticket (skipped if another sweep holds it)."""
    return _escalate_batch([ticket_id], now=now, enqueue=enqueue, contexts={})


def _escalate_batch(
    ticket_ids: list[int],
    *,
    now: datetime,
    enqueue: Callable[[int], None] | None,
    contexts: dict[int, clocks.ClockContext],
) -> int:
    """Fire the due steps of these tickets in one transaction.

    The tickets are locked FOR UPDATE SKIP LOCKED (a ticket another sweep holds is left to it),
    so the Escalation rows for a ticket are only ever inserted under its lock; the unique
    (ticket, clock, step) constraint stays the last word if anything slipped through.
    """
    with transaction.atomic():
        tickets = list(
            Ticket.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=ticket_ids, next_sla_check_at__lte=now)
            .order_by("pk")
        )
        if not tickets:
            return 0
        fired: dict[int, set[tuple[str, str]]] = {t.pk: set() for t in tickets}
        for ticket_id, clock, step in Escalation.objects.filter(
            ticket_id__in=list(fired)
        ).values_list("ticket_id", "clock", "step"):
            fired[ticket_id].add((clock, step))
        # Rows as field values (not model objects): see `_insert`.
        escalations: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for ticket in tickets:
            fired_before = len(escalations)
            context = clocks.ClockContext.of(ticket, contexts)
            ticket.next_sla_check_at = None
            if context.policy is None or context.cal is None:
                continue
            # In time order: the steps up to `now` fire, and the first one left is the next check
            # (`clocks.next_check_at` once they have fired, without walking the calendar again).
            for clock, step, instant in clocks.due_steps(
                ticket, policy=context.policy, cal=context.cal, fired=fired[ticket.pk], until=now
            ):
                if instant > now:
                    ticket.next_sla_check_at = instant
                    break
                escalations.append(
                    {
                        "ticket_id": ticket.pk,
                        "clock": clock,
                        "step": step.key,
                        "at_percent": step.at_percent,
                        "notify": step.notify,
                        "due_at": instant,
                        "fired_at": now,
                        "next_attempt_at": now + DELIVERY_GRACE,
                    }
                )
                events.append(_step_event(ticket, clock=clock, step=step, now=now))
            if len(escalations) > fired_before:
                ticket.updated_at = now
        ids = _insert(Escalation, escalations, returning_ids=True)
        _insert(TicketEvent, events)
        _save_sweep_fields(tickets)
        # A breach flag is an SLA figure: its ticket's day is recomputed (slas.figures).
        breached = {row["ticket_id"] for row in escalations if row["step"] == "breach"}
        figures.tickets_touched(ticket for ticket in tickets if ticket.pk in breached)
        send = enqueue or _enqueue_delivery
        transaction.on_commit(lambda: [send(i) for i in ids])
    return len(escalations)


# The ticket fields a sweep sets (the breach flags through `_step_event`).
SWEEP_FIELDS = ("next_sla_check_at", "response_breached", "resolution_breached", "updated_at")


# Fields whose values (str, int, float, bool, aware datetime, None) PostgreSQL's adapters take as
# they are: their `get_db_prep_save` returns the value itself, and calling it for each value of a
# sweep cost as much as running the statements.
_PLAIN_FIELDS = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "DateTimeField",
        "FloatField",
        "IntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
        "TextField",
    }
)


def _arrays(fields: Sequence[Field], rows: Sequence[Sequence[Any]]) -> tuple[str, list[list[Any]]]:
    """`unnest(%s::type[], ...)` over these fields' columns, and its parameters: one array per
    field of the rows' values (in `fields` order), as the field saves them."""
    # varchar[], not varchar(50)[]: a cast would cut a long value where the column refuses it.
    sql = ", ".join(f"%s::{field.db_type(connection).split('(')[0]}[]" for field in fields)
    database = connections[connection.alias]  # the connection itself, not the per-thread proxy
    params = []
    for index, field in enumerate(fields):
        values = [row[index] for row in rows]
        target = field.target_field if field.is_relation else field
        if target.get_internal_type() not in _PLAIN_FIELDS:
            values = [field.get_db_prep_save(value, database) for value in values]
        params.append(values)
    return f"unnest({sql})", params


def _insert(
    model: type[Model], rows: list[dict[str, Any]], *, returning_ids: bool = False
) -> list[int]:
    """INSERT the rows (attribute name → value; the other fields take their defaults) in one
    statement; returns their new ids, in order, when asked.

    On PostgreSQL one array per column (unnest), without model objects: for the sweep's two rows
    per step, `bulk_create` cost three times its statements. Elsewhere `bulk_create`. Like
    `bulk_create`, no `save()` and no signals; unlike it, no `auto_now` (the sweep's models have
    none).
    """
    if not rows:
        return []
    if connection.vendor != "postgresql":
        created = model.objects.bulk_create([model(**row) for row in rows])
        return [obj.pk for obj in created] if returning_ids else []
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    defaults = {field.attname: field.get_default() for field in fields}
    if unknown := rows[0].keys() - defaults.keys():
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    arrays, params = _arrays(
        fields, [[row.get(name, default) for name, default in defaults.items()] for row in rows]
    )
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)}"  # noqa: S608 - our names
        f" ({', '.join(quote(field.column) for field in fields)}) SELECT * FROM {arrays}"
    )
    if returning_ids:
        sql += f" RETURNING {quote(model._meta.pk.column)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        # PostgreSQL returns an INSERT ... SELECT's rows in the order selected (bulk_create's
        # own unnest relies on it too).
        return [pk for (pk,) in cursor.fetchall()] if returning_ids else []


def _save_sweep_fields(tickets: list[Ticket]) -> None:
    """Write the sweep's fields of the locked tickets back in one statement.

    On PostgreSQL an UPDATE joined to the new values as arrays (unnest): `bulk_update` builds a
    CASE WHEN per ticket and field, whose compiling cost more than the rest of the sweep. Other
    databases (the embedded SQLite set-up) keep `bulk_update`.
    """
    if connection.vendor != "postgresql":
        Ticket.objects.bulk_update(tickets, list(SWEEP_FIELDS))
        return
    fields = [Ticket._meta.pk] + [Ticket._meta.get_field(name) for name in SWEEP_FIELDS]
    arrays, params = _arrays(
        fields, [[getattr(ticket, field.attname) for field in fields] for ticket in tickets]
    )
    quote = connection.ops.quote_name
    pk, *columns = [quote(field.column) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(Ticket._meta.db_table)} AS ticket"  # noqa: S608 - our names
            f" SET {', '.join(f'{column} = new.{column}' for column in columns)}"
            f" FROM {arrays} AS new({pk}, {', '.join(columns)}) WHERE ticket.{pk} = new.{pk}",
            params,
        )


def _step_event(ticket: Ticket, *, clock: str, step: clocks.Step, now: datetime) -> dict[str, Any]:
    """The timeline row for a fired step (and the breach flag it sets)."""
    if step.key == "warning":
        kind, to_value = TicketEvent.Kind.SLA_WARNING, f"{step.at_percent}%"
    elif step.key == "breach":
        kind, to_value = TicketEvent.Kind.SLA_BREACHED, f"{step.at_percent}%"
        if clock == Escalation.Clock.RESPONSE:
            ticket.response_breached = True
        else:
            ticket.resolution_breached = True
    else:
        kind, to_value = TicketEvent.Kind.ESCALATED, step.notify
    # SLA steps are the provider's business: internal events, notified through the outbox.
    return {
        "ticket_id": ticket.pk,
        "kind": kind,
        "actor_id": None,
        "at": now,
        "from_value": clock,
        "to_value": to_value,
        "internal": True,
    }


def _enqueue_delivery(escalation_id: int) -> None:
    from .tasks import deliver_escalation

    deliver_escalation.enqueue(escalation_id)


def requeue_undelivered(
    *, now: datetime | None = None, enqueue: Callable[[int], None] | None = None, limit: int = 1000
) -> int:
    """Enqueue again the notifications whose delivery never happened (the outbox sweep)."""
    now = now or timezone.now()
    ids = list(
        Escalation.objects.filter(notified_at__isnull=True, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    if ids:
        Escalation.objects.filter(pk__in=ids).update(next_attempt_at=now + RETRY_DELAY)
    send = enqueue or _enqueue_delivery
    for escalation_id in ids:
        send(escalation_id)
    return len(ids)


def recipients(escalation: Escalation) -> list[User]:
    ticket = escalation.ticket
    provider = ticket.provider_department

    def heads(department_id: int | None) -> list[User]:
        if department_id is None:
            return []
        return list(department_staff(department_id, (Membership.Role.HEAD,)))

    if escalation.notify == "assignee":
        people = [ticket.assignee] if ticket.assignee and ticket.assignee.is_active else []
        people = people or heads(provider.pk)
    elif escalation.notify == "parent_department_head":
        people = heads(provider.parent_id) or heads(provider.pk)
    else:
        people = heads(provider.pk)
    unique = {user.pk: user for user in people}
    return list(unique.values())


def _message(escalation: Escalation) -> str:
    ticket = escalation.ticket
    due = timezone.localtime(escalation.due_at).strftime("%Y-%m-%d %H:%M")
    clock = escalation.get_clock_display()
    if escalation.step == "warning":
        return _("%(ref)s: %(percent)s%% of the %(clock)s time used (due %(due)s)") % {
            "ref": ticket.reference,
            "percent": escalation.at_percent,
            "clock": clock,
            "due": due,
        }
    if escalation.step == "breach":
        return _("%(ref)s: %(clock)s target breached (was due %(due)s)") % {
            "ref": ticket.reference,
            "clock": clock,
            "due": due,
        }
    return _("%(ref)s escalated to you: %(percent)s%% of the %(clock)s time (due %(due)s)") % {
        "ref": ticket.reference,
        "percent": escalation.at_percent,
        "clock": clock,
        "due": due,
    }


def deliver_escalation(escalation_id: int) -> int:
    """Notify the escalation's targets in-app and by email, once; returns people notified."""
    now = timezone.now()
    with transaction.atomic():
        claimed = Escalation.objects.filter(pk=escalation_id, notified_at__isnull=True).update(
            notified_at=now, attempts=F("attempts") + 1
        )
        if claimed != 1:
            return 0
        escalation = Escalation.objects.select_related(
            "ticket__provider_department", "ticket__assignee"
        ).get(pk=escalation_id)
        people = recipients(escalation)
        with translation.override(settings.LANGUAGE_CODE):
            message = _message(escalation)
        url = f"/tickets/{escalation.ticket.reference}/"
        Notification.objects.bulk_create(
            [
                Notification(
                    user=person,
                    ticket=escalation.ticket,
                    kind=f"sla_{escalation.step.split(':')[0]}",
                    message=message,
                    url=url,
                    source_key=f"escalation:{escalation.pk}",
                )
                for person in people
            ],
            ignore_conflicts=True,
        )
    addresses = [p.email for p in people if p.email]
    if addresses:
        try:
            send_mail(
                f"[{escalation.ticket.reference}] {message}",
                f"{message}\n\n{settings.SITE_URL.rstrip('/')}{url}",
                None,
                addresses,
            )
        except Exception:
            # Give the outbox sweep another go later; in-app notifications are not duplicated.
            Escalation.objects.filter(pk=escalation_id).update(
                notified_at=None, next_attempt_at=timezone.now() + RETRY_DELAY
            )
            raise
    return len(people)


def auto_close_resolved(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Close resolved tickets whose confirmation window (N business days) has passed."""
    now = now or timezone.now()
    closed = 0
    ids = list(
        Ticket.objects.filter(auto_close_at__lte=now, status=Status.RESOLVED)
        .order_by("auto_close_at")
        .values_list("pk", flat=True)[:limit]
    )
    for ticket_id in ids:
        with transaction.atomic():
            ticket = (
                Ticket.objects.select_for_update(skip_locked=True)
                .filter(pk=ticket_id, status=Status.RESOLVED, auto_close_at__lte=now)
                .first()
            )
            if ticket is None:
                continue
            transition_ticket(ticket=ticket, actor=None, status=Status.CLOSED, system=True)
            closed += 1
    return closed


def warn_calendar_coverage(*, today: date | None = None) -> int:
    """Tell admins (in-app and by email) when a calendar in use is about to run out of years.

    A calendar "runs out" when, within CALENDAR_WARNING_DAYS, due times will fall in a year whose
    holidays it does not have. Each (calendar, year) is announced once per admin.
    """
    from .models import BusinessCalendar

    today = today or timezone.localdate()
    horizon = today + timedelta(days=settings.CALENDAR_WARNING_DAYS)
    admins = list(User.objects.filter(is_staff=True, is_active=True))
    sent = 0
    for calendar in BusinessCalendar.objects.filter(policies__isnull=False).distinct():
        missing = [y for y in range(today.year, horizon.year + 1) if y not in calendar.years]
        if not missing:
            continue
        year = missing[0]
        with translation.override(settings.LANGUAGE_CODE):
            message = _(
                "Business calendar “%(calendar)s” has no holidays for %(year)s yet: import "
                "them (manage.py import_china_calendar %(year)s --calendar %(id)s) or enter them "
                "by hand."
            ) % {"calendar": calendar.name, "year": year, "id": calendar.pk}
        source_key = f"calendar:{calendar.pk}:{year}"
        told = set(
            Notification.objects.filter(source_key=source_key).values_list("user_id", flat=True)
        )
        fresh = [admin for admin in admins if admin.pk not in told]
        Notification.objects.bulk_create(
            [
                Notification(
                    user=admin,
                    kind="calendar_coverage",
                    message=message,
                    url=f"/admin/slas/businesscalendar/{calendar.pk}/change/",
                    source_key=source_key,
                )
                for admin in fresh
            ],
            ignore_conflicts=True,  # two runs at once: the unique row keeps one
        )
        addresses = [admin.email for admin in fresh if admin.email]
        if addresses:
            send_mail(message[:150], message, None, addresses)
        sent += len(fresh)
    return sent
