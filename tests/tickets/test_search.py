"""`?search=` on the ticket list: a reference, or any part of a title, whatever the case.

The list pages through a search in two steps (tickets/search.py): the newest WINDOW tickets of
the list first, then the bigram index. WINDOW is shrunk here so that a few dozen tickets cross
both steps; every page of every ordering must hold exactly the visible matching tickets.
"""

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import UserFactory
from tickets import search, services
from tickets.models import Ticket
from tickets.search import TitleHasPairsOf

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"

# Most titles hold 打印 (a two-character word: one pair); VPN sits in a few old titles only,
# spelt in either case; 量子计算机 in one title, the oldest; 蓝 (one character) in two.
TITLES = [
    "量子计算机 借用",
    "vpn 连接断开",
    "蓝牙耳机 申请",
    "VPN 账号开通",
    *(f"打印机 卡纸 {n}" for n in range(20)),
    "显示器 蓝屏",
    *(f"打印 报表 {n}" for n in range(8)),
    "门禁卡 补办",
]


@pytest.fixture
def tickets(company) -> list[Ticket]:
    """TITLES filed in order, oldest first, to IT by HR employees; plus one of the agent's own
    requests to Finance (visible to the agent) and one HR→Finance ticket (not visible)."""
    filed = []
    start = timezone.now() - timedelta(days=len(TITLES))
    for number, title in enumerate(TITLES):
        ticket = services.file_ticket(
            requester=UserFactory(department=company.hr),
            service=company.service,
            title=title,
            form_data={"model": "14寸"},
        )
        # Distinct creation times a day apart, and due times with gaps (the service has no
        # promise, so they are empty): orderings with NULLs and with ties are both exercised.
        due = start + timedelta(days=number % 5) if number % 3 else None
        Ticket.objects.filter(pk=ticket.pk).update(
            created_at=start + timedelta(days=number), resolution_due_at=due
        )
        filed.append(ticket)
    return filed


@pytest.fixture
def small_window(monkeypatch):
    monkeypatch.setattr(search, "WINDOW", 4)
    monkeypatch.setattr(search, "CANDIDATES", 3)


def expected(agent_visible: list[Ticket], term: str) -> list[int]:
    folded = term.upper()
    return [
        t.pk for t in agent_visible if folded in t.title.upper() or t.reference.upper() == folded
    ]


def walk(client, params: dict[str, str]) -> list[int]:
    """Every page of the list, following `next`, as ticket ids."""
    ids: list[int] = []
    response = client.get(TICKETS, {**params, "page_size": 3})
    for _ in range(100):
        assert response.status_code == 200, response.content
        body = response.json()
        ids += [row["id"] for row in body["results"]]
        if not body["next"]:
            return ids
        query = {key: value[0] for key, value in parse_qs(urlparse(body["next"]).query).items()}
        response = client.get(TICKETS, query)
    raise AssertionError("more than 100 pages")


ORDERINGS = ["-created_at", "created_at", "resolution_due_at", "-resolution_due_at", "priority"]
TERMS = ["打印", "vpn", "VPN", "量子计算机", "量子", "蓝", "门", "报表 7", "不存在的词"]


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_every_page_of_a_search_holds_exactly_the_visible_matches_in_list_order(
    company, api, tickets, small_window, ordering
):
    client = api(company.agent)
    everything = walk(client, {"ordering": ordering})
    by_id = {t.pk: t for t in Ticket.objects.all()}
    visible = [by_id[pk] for pk in everything]

    for term in [*TERMS, tickets[5].reference.lower()]:
        assert walk(client, {"ordering": ordering, "search": term}) == expected(visible, term), term


def test_search_finds_old_rare_titles_through_the_index_and_common_ones_among_the_newest(
    company, api, tickets, small_window
):
    client = api(company.agent)

    with CaptureQueriesContext(connection) as rare:
        response = client.get(TICKETS, {"search": "量子计算机"})
    assert [row["id"] for row in response.json()["results"]] == [tickets[0].pk]
    assert any("ticket_bigrams(" in query["sql"] for query in rare.captured_queries)

    with CaptureQueriesContext(connection) as common:
        # The newest four tickets hold three matches: a page of two, and a sign of more.
        response = client.get(TICKETS, {"search": "打印", "page_size": 2})
    assert [row["title"] for row in response.json()["results"]] == ["打印 报表 7", "打印 报表 6"]
    assert response.json()["next"]
    ticket_queries = [q["sql"] for q in common.captured_queries if "tickets_ticket" in q["sql"]]
    assert not any("ticket_bigrams(" in sql for sql in ticket_queries)
    assert len(ticket_queries) == 2  # the edge of the newest four, the page


def test_a_word_of_many_older_tickets_is_read_on_in_order_not_sorted_from_the_index(
    company, api, tickets, small_window
):
    # 卡纸 is in twenty titles, none among the newest four: more than CANDIDATES matches.
    with CaptureQueriesContext(connection) as captured:
        response = api(company.agent).get(TICKETS, {"search": "卡纸", "page_size": 2})
    assert [row["title"] for row in response.json()["results"]] == [
        "打印机 卡纸 19",
        "打印机 卡纸 18",
    ]
    ticket_queries = [q["sql"] for q in captured.captured_queries if "tickets_ticket" in q["sql"]]
    # The edge, the recent tickets, the count of candidates (the index), the page (in order).
    assert len(ticket_queries) == 4
    assert "COUNT(" in ticket_queries[2] and "ticket_bigrams(" in ticket_queries[2]
    assert "ticket_bigrams(" not in ticket_queries[3]


def test_search_never_shows_a_ticket_the_caller_may_not_see(company, api, tickets, small_window):
    hidden = services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="量子计算机 归还",
        form_data={"model": "14寸"},
    )
    response = api(company.finance_agent).get(TICKETS, {"search": "量子计算机"})
    assert response.json()["results"] == []
    response = api(company.requester).get(TICKETS, {"search": "量子计算机"})
    assert [row["id"] for row in response.json()["results"]] == [hidden.pk]


def plan(queryset) -> str:
    sql, params = queryset.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        # Small test tables are read whole; forbid that to see which index can answer.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_search_conditions_are_the_indexes_expressions(tickets):
    assert "ticket_title_bigrams_idx" in plan(Ticket.objects.filter(TitleHasPairsOf("打印")))
    assert "ticket_reference_upper_idx" in plan(
        Ticket.objects.filter(Q(reference__iexact=tickets[0].reference.lower()))
    )


def test_title_pairs_are_those_of_the_upper_case_title(tickets):
    """ticket_bigrams (migration 0009) against pairs worked out by hand."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT ticket_bigrams('VpN 打印'), ticket_bigrams('x'), ticket_bigrams('')")
        pairs, single, empty = cursor.fetchone()
    text = "VPN 打印"
    assert sorted(pairs) == sorted(
        {(ord(a) << 21) | ord(b) for a, b in zip(text, text[1:], strict=False)}
    )
    assert single == [] and empty == []
