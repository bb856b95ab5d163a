"""Writes to in-app notifications."""

from django.utils import timezone

from departments.models import User

from .models import Notification


def mark_read(*, user: User, ids: list[int] | None = None) -> int:
    """Mark the user's notifications read (all unread ones when `ids` is None)."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())
