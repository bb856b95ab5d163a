"""What every page's header needs: the roles that decide the menu and the unread count."""

from django.http import HttpRequest

from departments.selectors import headed_department_ids, provider_department_ids


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from tickets.models import Notification

    return {
        "nav": {
            "is_agent": bool(provider_department_ids(user)),
            "is_head": bool(headed_department_ids(user)) or user.is_staff,
            # Lazy: counted only when a template shows it (one indexed COUNT on unread rows).
            "unread": lambda: Notification.objects.filter(user=user, read_at__isnull=True).count(),
        }
    }
