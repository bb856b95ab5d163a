"""Writes for the peak-end ticket rating and for kudos (DESIGN §2 "Feedback").

The requester rates a resolved ticket once (the rating stays editable until the ticket is
closed) and may ask a low score to reopen it; on each resolution the requester is asked to rate,
in-app and by email through the outbox. Kudos thank an agent who worked on a ticket.
Every function takes keyword arguments and runs in one transaction.
"""

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from departments.models import User
from servicedesk.errors import Conflict, InvalidInput, NotAllowed
from tickets.models import Notification, Status, Ticket, TicketEvent

from .models import Kudos, Moment, TicketRating
from .outbox import Email, queue_emails
from .rating_selectors import kudos_candidates

LOW_SCORE = 2  # a score at or below this may ask to reopen the ticket
COMMENT_MAX = 5000
KUDOS_MESSAGE_MAX = 500


def _score(value: Any, errors: dict[str, list[str]], field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        errors[field] = [_("must be a whole number from 1 to 5")]
        return 0
    return value


def _moment(value: Any, errors: dict[str, list[str]], field: str) -> str:
    value = value or ""
    if value and value not in Moment.values:
        errors[field] = [_("must be one of: %s") % ", ".join(Moment.values)]
        return ""
    return value


def _text(value: Any, errors: dict[str, list[str]], field: str, limit: int) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        errors[field] = [_("must be at most %(n)d characters") % {"n": limit}]
    elif "\x00" in text:
        errors[field] = [_("must not contain NUL characters")]
    return text


def can_rate(user: User, ticket: Ticket, rating: TicketRating | None) -> bool:
    """Whether the rating form is open to this user now (the page asks; the service decides)."""
    if ticket.requester_id != user.pk:
        return False
    if ticket.status == Status.RESOLVED:
        return True
    return ticket.status == Status.CLOSED and rating is None


@transaction.atomic
def rate_ticket(
    *,
    user: User,
    ticket: Ticket,
    score: int | None,
    end_score: int | None,
    best_moment: str = "",
    worst_moment: str = "",
    comment: str = "",
    reopen: bool = False,
) -> TicketRating:
    """Create or edit the requester's rating of a ticket; `reopen` (low scores only) sends the
    ticket back to in progress through the status machine, in the same transaction.

    A resolved ticket can be rated and re-rated. A closed ticket keeps its rating as it is, but
    one that was never rated can still get its first rating (the requester who confirmed or was
    auto-closed before rating keeps their say). Locks the ticket row.
    """
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.requester_id != user.pk:
        raise NotAllowed(_("Only the requester may rate this ticket."))
    rating = TicketRating.objects.filter(ticket=ticket).first()
    if ticket.status == Status.CLOSED and rating is not None:
        raise Conflict(_("The ticket is closed: its rating can no longer be changed."))
    if ticket.status not in (Status.RESOLVED, Status.CLOSED):
        raise Conflict(_("A ticket can be rated once it is resolved."))

    errors: dict[str, list[str]] = {}
    score = _score(score, errors, "score")
    end_score = _score(end_score, errors, "end_score")
    best_moment = _moment(best_moment, errors, "best_moment")
    worst_moment = _moment(worst_moment, errors, "worst_moment")
    if best_moment and best_moment == worst_moment and "worst_moment" not in errors:
        errors["worst_moment"] = [_("the worst moment must differ from the best moment")]
    comment = _text(comment, errors, "comment", COMMENT_MAX)
    if reopen and "score" not in errors and score > LOW_SCORE:
        errors["reopen"] = [
            _("only a score of %(n)d or less can reopen the ticket") % {"n": LOW_SCORE}
        ]
    if errors:
        raise InvalidInput(errors)

    now = timezone.now()
    previous = f"{rating.score}/5" if rating is not None else ""
    if rating is None:
        rating = TicketRating(ticket=ticket, created_at=now)
    rating.provider_department_id = ticket.provider_department_id
    rating.agent_id = ticket.assignee_id
    rating.score = score
    rating.end_score = end_score
    rating.best_moment = best_moment
    rating.worst_moment = worst_moment
    rating.comment = comment
    rating.updated_at = now
    rating.save()

    from tickets.services import record_event, transition_ticket

    record_event(
        ticket,
        TicketEvent.Kind.RATED,
        actor=user,
        at=now,
        from_value=previous,
        to_value=f"{score}/5",
    )
    if reopen:
        # The status machine decides (resolved → in progress by the requester, within the
        # reopen window); its refusal rolls the whole rating back with it.
        transition_ticket(ticket=ticket, actor=user, status=Status.IN_PROGRESS)
    return rating


def rating_url(ticket: Ticket) -> str:
    return f"/tickets/{ticket.reference}/#rating"


def request_rating(*, ticket_id: int, resolved_event_id: int) -> bool:
    """Ask the requester to rate a just-resolved ticket: one in-app notification and one email
    (through the outbox) per resolution, however often this runs. Returns True if anything new
    was written. Runs in the caller's transaction when there is one."""
    ticket = Ticket.objects.select_related("requester").filter(pk=ticket_id).first()
    if ticket is None or ticket.status != Status.RESOLVED or not ticket.requester.is_active:
        return False
    key = f"rate:{ticket.pk}:{resolved_event_id}"
    url = rating_url(ticket)
    with translation.override(settings.LANGUAGE_CODE):
        message = _("%(ref)s was resolved. How did we do? Please rate it.") % {
            "ref": ticket.reference
        }
        subject = f"[{ticket.reference}] " + _("Please rate: %(title)s") % {"title": ticket.title}
        body = "\n".join(
            [
                f"{ticket.reference} · {ticket.title}",
                "",
                _(
                    "Your request was resolved. Two minutes of your time tell the team what "
                    "went well and what did not: rate it, or reopen it if it is not solved."
                ),
                "",
                f"{settings.SITE_URL.rstrip('/')}{url}",
            ]
        )
    notified = Notification.objects.filter(user=ticket.requester, source_key=key).exists()
    Notification.objects.bulk_create(
        [
            Notification(
                user=ticket.requester,
                ticket=ticket,
                kind="rating_request",
                message=message[:500],
                url=url,
                source_key=key,
            )
        ],
        ignore_conflicts=True,
    )
    emails = queue_emails([Email(ticket.requester, key, subject, body)])
    return bool(emails) or not notified


@transaction.atomic
def give_kudos(*, giver: User, ticket: Ticket, agent: User, message: str = "") -> Kudos:
    """The requester thanks an agent who worked on the ticket (assignee, once assigned, or wrote
    a public reply); once per (ticket, giver, agent). The agent is told in-app."""
    ticket = Ticket.objects.get(pk=ticket.pk)  # fresh: the assignee may have changed
    if ticket.requester_id != giver.pk:
        raise NotAllowed(_("Only the requester may thank the agents of this ticket."))
    errors: dict[str, list[str]] = {}
    message = _text(message, errors, "message", KUDOS_MESSAGE_MAX)
    if agent.pk not in {candidate.pk for candidate in kudos_candidates(ticket)}:
        errors["agent"] = [_("must be an agent who worked on this ticket")]
    if errors:
        raise InvalidInput(errors)
    try:
        with transaction.atomic():
            kudos = Kudos.objects.create(
                ticket=ticket,
                agent=agent,
                giver=giver,
                department_id=ticket.provider_department_id,
                message=message,
                created_at=timezone.now(),
            )
    except IntegrityError:
        raise Conflict(
            _("You have already thanked %(agent)s for this ticket.") % {"agent": agent}
        ) from None
    with translation.override(settings.LANGUAGE_CODE):
        text = _("%(giver)s thanked you for %(ref)s") % {"giver": giver, "ref": ticket.reference}
        if message:
            text += f": {message}"
    Notification.objects.bulk_create(
        [
            Notification(
                user=agent,
                ticket=ticket,
                kind="kudos",
                message=text[:500],
                url=f"/tickets/{ticket.reference}/#kudos",
                source_key=f"kudos:{kudos.pk}",
            )
        ],
        ignore_conflicts=True,
    )
    return kudos
