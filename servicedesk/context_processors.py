"""What every page's header needs: the roles that decide the menu and the unread count."""

from django.http import HttpRequest

from departments.selectors import headed_department_ids, provider_department_ids


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav": {
            "is_agent": bool(provider_department_ids(user)),
            "is_head": bool(headed_department_ids(user)) or user.is_staff,
            # Lazy: counted only when a template shows it. On a page read it came with the roles
            # (servicedesk.auth.AuthenticationMiddleware); else one indexed COUNT on unread rows.
            "unread": lambda: _unread_count(user),
        }
    }


def _unread_count(user: object) -> int:
    from servicedesk.auth import UNREAD_NOTIFICATIONS
    from tickets.models import Notification

    companions = getattr(user, "roles_companions", None)
    if companions is not None and getattr(user, "roles_companion_rows", None) is not None:
        return companions.get(UNREAD_NOTIFICATIONS, 0)
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
