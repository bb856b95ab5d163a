"""Feedback emails through a database outbox.

`queue_emails` writes OutboundEmail rows in the caller's transaction and enqueues delivery on
commit; if the broker is down the rows wait for the periodic `deliver_pending` sweep. Each row
is claimed with a conditional update before sending, so a redelivered task never mails twice,
and a failed send is pushed back (`next_attempt_at`) instead of blocking the rest.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from departments.models import User

from .models import OutboundEmail

RETRY_BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))
MAX_ATTEMPTS = 8
# A claim older than this with no send recorded is taken to be a crashed worker's.
CLAIM_TIMEOUT = timedelta(minutes=10)


@dataclass(frozen=True)
class Email:
    recipient: User
    key: str
    subject: str
    body: str


def queue_emails(emails: Iterable[Email]) -> int:
    """Write one outbox row per (recipient, key) not written before; deliver after commit.

    Returns how many rows were new. Recipients without an address are skipped."""
    rows = [
        OutboundEmail(
            recipient=email.recipient, key=email.key, subject=email.subject[:300], body=email.body
        )
        for email in emails
        if email.recipient.email
    ]
    if not rows:
        return 0
    keys = {(row.recipient_id, row.key) for row in rows}
    existing = set(
        OutboundEmail.objects.filter(
            recipient_id__in={recipient for recipient, _key in keys},
            key__in={key for _recipient, key in keys},
        ).values_list("recipient_id", "key")
    )
    fresh = [row for row in rows if (row.recipient_id, row.key) not in existing]
    OutboundEmail.objects.bulk_create(fresh, ignore_conflicts=True, batch_size=1000)
    if fresh:
        transaction.on_commit(_enqueue_delivery)
    return len(fresh)


def _enqueue_delivery() -> None:
    from .tasks import deliver_outbox

    deliver_outbox.enqueue()


def deliver_pending(*, now: datetime | None = None, limit: int = 500) -> int:
    """Send due outbox rows (oldest first); returns how many were sent."""
    now = now or timezone.now()
    candidates = list(
        OutboundEmail.objects.filter(sent_at=None, attempts__lt=MAX_ATTEMPTS)
        .exclude(next_attempt_at__gt=now)
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for email_id in candidates:
        sent += deliver_one(email_id, now=now)
    return sent


def deliver_one(email_id: int, *, now: datetime | None = None) -> int:
    now = now or timezone.now()
    # Claim: push the next attempt out first, so a crash mid-send is retried later, never twice
    # at once; only the worker whose update matched sends.
    claimed = (
        OutboundEmail.objects.filter(pk=email_id, sent_at=None)
        .exclude(next_attempt_at__gt=now)
        .update(next_attempt_at=now + CLAIM_TIMEOUT)
    )
    if claimed != 1:
        return 0
    email = OutboundEmail.objects.select_related("recipient").get(pk=email_id)
    try:
        send_mail(email.subject, email.body, None, [email.recipient.email])
    except Exception:
        backoff = RETRY_BACKOFF[min(email.attempts, len(RETRY_BACKOFF) - 1)]
        OutboundEmail.objects.filter(pk=email_id).update(
            attempts=email.attempts + 1, next_attempt_at=timezone.now() + backoff
        )
        return 0
    OutboundEmail.objects.filter(pk=email_id).update(
        sent_at=timezone.now(), attempts=email.attempts + 1, next_attempt_at=None
    )
    return 1
