"""The in-app notifications page (escalations, calendar warnings, ticket changes)."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import notification_services
from .models import Notification

PAGE_SIZE = 30


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    notifications = Notification.objects.filter(user=request.user).order_by("-created_at", "-id")
    if request.GET.get("unread") == "1":
        notifications = notifications.filter(read_at__isnull=True)
    # Paginator without COUNT(*) on every view would need a cursor; a user's list is small.
    page = Paginator(notifications, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "tickets/notifications.html",
        {"page": page, "unread_only": request.GET.get("unread") == "1"},
    )


@login_required
@require_POST
def mark_read(request: HttpRequest) -> HttpResponse:
    ids = [int(i) for i in request.POST.getlist("id") if i.isdigit()]
    notification_services.mark_read(user=request.user, ids=ids or None)
    if request.headers.get("HX-Request"):
        return HttpResponse(status=204, headers={"HX-Refresh": "true"})
    return redirect("notifications")
