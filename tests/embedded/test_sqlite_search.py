"""`?search=` on SQLite (the embedded set-up), which has no search index: the list is filtered
by the search's condition (tickets.search.matching) and paged as any list; every page, forwards
and back, holds exactly the visible tickets whose reference is the term or whose title holds
it, in any case."""

from tests.embedded.test_sqlite_writers import SMALL_DESK, migrated, run_ok  # noqa: F401 - the fixture

SEARCH = (
    SMALL_DESK
    + r"""
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

from django.utils import timezone
from rest_framework.test import APIClient

from tickets.models import Ticket

other = User.objects.create(username="other", department=hr)
start = timezone.now() - timedelta(days=10)
titles = ["打印 报表 7", "vpn 连接", "VPN 账号", "打印机 卡纸", "100% 打印_完成", "报表 7 打印"]
titles.append("门禁")
for number, title in enumerate(titles * 2):
    Ticket.objects.create(
        reference=f"IT-2026-{number:06}", title=title, service=service,
        provider_department=it, requester=requester if number % 3 else other,
        requester_department=hr, created_at=start + timedelta(hours=number // 2),
    )


def walk(client, params):
    pages, response = [], client.get("/api/v1/tickets/", {**params, "page_size": 2})
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append([row["id"] for row in body["results"]])
        if not body["next"]:
            break
        response = client.get(body["next"])
    back = [pages[-1]]
    while body["previous"]:
        body = client.get(body["previous"]).json()
        back.insert(0, [row["id"] for row in body["results"]])
    assert back == pages, params
    return [pk for page in pages for pk in page]


for user in [agent, requester]:
    client = APIClient()
    client.force_authenticate(User.objects.get(pk=user.pk))
    listed = [Ticket.objects.get(pk=pk) for pk in walk(client, {})]
    for term in ["打印", "vpn", "VPN", "报表 7", "%", "_", "门", "it-2026-000004", "没有"]:
        folded = term.upper()
        expected = [
            t.pk for t in listed if folded in t.title.upper() or t.reference.upper() == folded
        ]
        assert walk(client, {"search": term}) == expected, (user.username, term)
        assert expected or term == "没有", term
print("ok")
"""
)


def test_a_search_on_sqlite_pages_exactly_through_the_visible_matches(migrated):  # noqa: F811
    run_ok(SEARCH, migrated)
