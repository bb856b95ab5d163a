"""The suggestion box (意见箱): sending a suggestion to a department and the department's answer.

Anonymous means anonymous: an anonymous suggestion stores no author, only the day it was sent,
and sending one writes nothing else anywhere (no event, notification, log line or admin log
entry) that could tie it to the person who sent it.

Status machine (the one table; services, pages and the API all ask it):

    open ─┬─> under_review ─┬─> accepted ──> done
          │                 └─> declined
          ├─> accepted   (a department may decide straight away, without a review step)
          └─> declined

`declined` and `done` are final.
"""

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from departments.models import Department, User
from departments.selectors import is_agent_of
from servicedesk.errors import InvalidInput, InvalidTransition, NotAllowed
from tickets.models import Notification

from .models import Suggestion

Status = Suggestion.Status

TRANSITIONS: dict[str, frozenset[str]] = {
    Status.OPEN: frozenset({Status.UNDER_REVIEW, Status.ACCEPTED, Status.DECLINED}),
    Status.UNDER_REVIEW: frozenset({Status.ACCEPTED, Status.DECLINED}),
    Status.ACCEPTED: frozenset({Status.DONE}),
    Status.DECLINED: frozenset(),
    Status.DONE: frozenset(),
}

TITLE_MAX = 200
BODY_MAX = 5000
ANSWER_MAX = 5000


def next_statuses(status: str) -> list[str]:
    """The statuses a suggestion in `status` may move to, in the machine's order."""
    allowed = TRANSITIONS.get(status, frozenset())
    return [value for value in Status.values if value in allowed]


def can_answer(user: User, suggestion: Suggestion) -> bool:
    """Agents and heads of the receiving department answer its suggestions."""
    return user.is_authenticated and is_agent_of(user, suggestion.department_id)


def _clean_text(value: str, *, field: str, max_length: int, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput({field: [_("This field is required.")]})
    if len(text) > max_length:
        raise InvalidInput(
            {
                field: [
                    _("Ensure this value has at most %(max)d characters (it has %(length)d).")
                    % {"max": max_length, "length": len(text)}
                ]
            }
        )
    return text


@transaction.atomic
def submit_suggestion(
    *, author: User, department: Department, title: str, body: str, anonymous: bool
) -> Suggestion:
    """Send a suggestion to a department, under the author's name or anonymously.

    For an anonymous suggestion `author` is only used to check that someone is signed in: it is
    not stored, logged or passed on, and the stored times carry the day only.
    """
    if not author.is_authenticated:
        raise NotAllowed(_("Sign in to send a suggestion."))
    if department is None or not department.is_active:
        raise InvalidInput({"department": [_("Choose an active department.")]})
    title = _clean_text(title, field="title", max_length=TITLE_MAX, required=True)
    body = _clean_text(body, field="body", max_length=BODY_MAX, required=True)
    today = timezone.localdate()
    suggestion = Suggestion.objects.create(
        department=department,
        title=title,
        body=body,
        anonymous=bool(anonymous),
        author=None if anonymous else author,
        created_on=today,
    )
    return suggestion


def _notify_author(suggestion: Suggestion) -> None:
    """Tell a named author about a new status or answer (one notification per status)."""
    if suggestion.author_id is None or suggestion.anonymous:
        return
    with translation.override(settings.LANGUAGE_CODE):
        message = _("Your suggestion “%(title)s” to %(department)s: %(status)s") % {
            "title": suggestion.title[:120],
            "department": suggestion.department.name,
            "status": suggestion.get_status_display(),
        }
        if suggestion.answer:
            message = f"{message}. {_('Answer:')} {suggestion.answer}"
    # Same status, new answer: the one notification of that status is refreshed and unread again.
    Notification.objects.update_or_create(
        user_id=suggestion.author_id,
        source_key=f"suggestion:{suggestion.pk}:{suggestion.status}",
        defaults={
            "kind": "suggestion_answered",
            "message": message[:500],
            "url": f"/suggestions/#suggestion-{suggestion.pk}",
            "read_at": None,
        },
    )


@transaction.atomic
def answer_suggestion(
    *,
    actor: User,
    suggestion: Suggestion,
    status: str | None = None,
    answer: str | None = None,
) -> Suggestion:
    """Move a suggestion along the status machine and/or set its public answer.

    Agents and heads of the receiving department only; the row is locked for the change.
    """
    if not can_answer(actor, suggestion):
        raise NotAllowed(_("Only agents and heads of the department answer its suggestions."))
    locked = (
        Suggestion.objects.select_for_update(of=("self",))
        .select_related("department")
        .get(pk=suggestion.pk)
    )
    changed = False
    if status is not None and status != locked.status:
        if status not in Status.values:
            raise InvalidInput({"status": [_("Unknown status “%(status)s”.") % {"status": status}]})
        if status not in TRANSITIONS[locked.status]:
            message = _("A suggestion that is %(from)s cannot become %(to)s.") % {
                "from": locked.get_status_display(),
                "to": Status(status).label,
            }
            raise InvalidTransition(message, fields={"status": [message]})
        locked.status = status
        changed = True
    if answer is not None:
        answer = _clean_text(answer, field="answer", max_length=ANSWER_MAX, required=False)
        if answer != locked.answer:
            locked.answer = answer
            changed = True
    if not changed:
        return locked
    locked.answered_by = actor
    locked.answered_at = timezone.now()
    locked.save()
    _notify_author(locked)
    return locked
