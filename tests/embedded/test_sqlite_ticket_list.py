"""The API's ticket list on SQLite (the embedded set-up): its pages are read by statements
compiled once per shape where SQLite takes the values as parameters, and through the ORM where
it does not (times, which SQLite receives as text); either way each page, in every filter,
order and cursor tried, is byte for byte what the ORM's queryset gave (tickets.filters.
filtered_ticket_rows, issue #6)."""

from tests.embedded.test_sqlite_writers import SMALL_DESK, migrated, run_ok  # noqa: F401 - the fixture

LIST = (
    SMALL_DESK
    + r"""
from datetime import timedelta
from urllib.parse import urlencode

from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.test import APIClient

from servicedesk import statements
from tickets import api, selectors
from tickets.filters import TicketOrderingFilter
from tickets.models import Ticket

start = timezone.now() - timedelta(days=10)
priorities, statuses = ["low", "normal", "high", "urgent"], ["new", "assigned", "waiting"]
for number in range(11):
    Ticket.objects.create(
        reference=f"IT-2026-{number:06}", title=f"请求 {number}", service=service,
        provider_department=it, requester=requester, requester_department=hr,
        priority=priorities[number % 4], status=statuses[number % 3],
        created_at=start + timedelta(hours=number // 2),
        resolution_due_at=start + timedelta(days=number % 3) if number % 4 else None,
        response_breached=number % 5 == 1, form_data={"model": "14寸"} if number % 2 else {},
    )


def orm_rows(request):
    view = api.TicketViewSet(request=request, format_kwarg=None)
    rows = selectors.visible_ticket_rows(request.user)
    rows = DjangoFilterBackend().filter_queryset(request, rows, view)
    return TicketOrderingFilter().filter_queryset(request, rows, view)


compiled_rows = api.filtered_ticket_rows


def get(url, rows):
    api.filtered_ticket_rows = rows
    client = APIClient()
    client.force_authenticate(User.objects.get(pk=agent.pk))
    return client.get(url)


for params, several in [
    ({"page_size": "3"}, True),
    ({"status": "new,waiting", "ordering": "-priority", "page_size": "2"}, True),
    ({"provider_department": str(it.pk), "ordering": "resolution_due_at", "page_size": "3"}, True),
    ({"breached": "false", "ordering": "status,-resolution_due_at", "page_size": "4"}, True),
    ({"created_after": (start + timedelta(hours=2)).isoformat(), "page_size": "2"}, True),
    # A search's text is not bound as it is (its LIKE pattern is): one statement per term.
    ({"search": "请求 1", "page_size": "1"}, True),
    ({"search": "求", "status": "new", "page_size": "2"}, True),
    ({"search": "it-2026-000003"}, False),
]:
    url, pages = "/api/v1/tickets/?" + urlencode(params), 0
    while url:
        compiled, orm = get(url, compiled_rows), get(url, orm_rows)
        assert compiled.status_code == 200, compiled.content
        assert compiled.content == orm.content, url
        assert compiled.json()["results"], url
        pages += 1
        url = compiled.json()["next"]
    assert (pages > 1) == several, params
percent = get("/api/v1/tickets/?search=1%25", compiled_rows)  # a wildcard, searched as text
assert percent.status_code == 200 and percent.json()["results"] == [], percent.content
bad = get("/api/v1/tickets/?provider_department=999", compiled_rows)
assert bad.status_code == 400 and list(bad.json()["fields"]) == ["provider_department"]
# The first pages' statements were kept (ids and texts are SQLite parameters too).
assert any(key[0] == "rows" for key in statements._kept), list(statements._kept)
print("ok")
"""
)


def test_the_list_on_sqlite_pages_as_the_orm_did(migrated):  # noqa: F811 - the fixture
    run_ok(LIST, migrated)
