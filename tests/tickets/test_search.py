"""`?search=` on the ticket list: a reference, or any part of a title, whatever the case.

The list pages through a search in two steps (tickets/search.py): the newest WINDOW tickets of
the list first, then the index of the titles' pairs and characters. WINDOW is shrunk here so
that a few dozen tickets cross both steps; every page of every ordering, for every viewer,
forwards and back, must hold exactly the visible matching tickets.
"""

import json
import sys
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from servicedesk import statements
from servicedesk.pagination import order_expression
from tests.factories import UserFactory
from tickets import search, selectors, services
from tickets.models import Ticket
from tickets.search import TitleHasPairsOf, caseless, matching

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
    monkeypatch.setattr(search, "LONG_WINDOW", 12)
    monkeypatch.setattr(search, "CANDIDATES", 3)


def expected(agent_visible: list[Ticket], term: str) -> list[int]:
    folded = term.upper()
    return [
        t.pk for t in agent_visible if folded in t.title.upper() or t.reference.upper() == folded
    ]


def walk(client, params: dict[str, str], *, back: bool = False) -> list[int]:
    """Every page of the list, following `next`, as ticket ids; with `back`, then every page
    again from the last one, following `previous`, which must give the same ids."""
    pages: list[list[int]] = []
    response = client.get(TICKETS, {**params, "page_size": 3})
    for _ in range(100):
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append([row["id"] for row in body["results"]])
        if not body["next"]:
            break
        response = client.get(TICKETS, link_query(body["next"]))
    else:
        raise AssertionError("more than 100 pages")
    if back:
        backwards = [pages[-1]]
        while body["previous"]:
            body = client.get(TICKETS, link_query(body["previous"])).json()
            backwards.insert(0, [row["id"] for row in body["results"]])
        assert backwards == pages
    return [pk for page in pages for pk in page]


def link_query(link: str) -> dict[str, str]:
    return {key: value[0] for key, value in parse_qs(urlparse(link).query).items()}


ORDERINGS = ["-created_at", "created_at", "resolution_due_at", "-resolution_due_at", "priority"]
TERMS = ["打印", "vpn", "VPN", "量子计算机", "量子", "蓝", "门", "报表 7", "不存在的词"]


@pytest.fixture
def pair_statistics(monkeypatch, tickets):
    """PostgreSQL's statistics of the title pairs, as ANALYZE leaves them, read by the search
    (tests otherwise run without: tests/conftest.py). In 34 titles every pair is in one title
    in 34 or more, so the share under which a pair counts as rare is raised to a tenth."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_ticket")
    monkeypatch.setattr(search, "_pair_statistics", (float("-inf"), None))
    monkeypatch.setattr(search, "COMMON_SHARE", 0.1)
    monkeypatch.setattr(search, "FEW_CANDIDATES", 2)  # vpn (two titles) turns out common


@pytest.mark.parametrize("with_statistics", [False, True], ids=["no statistics", "statistics"])
@pytest.mark.parametrize("ordering", ORDERINGS)
def test_every_page_of_a_search_holds_exactly_the_visible_matches_in_list_order(
    company, api, tickets, small_window, ordering, with_statistics, request
):
    if with_statistics:
        request.getfixturevalue("pair_statistics")
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
    ticket_queries = [q["sql"] for q in rare.captured_queries if "tickets_ticket" in q["sql"]]
    # The newest four (no match), the index's candidates sorted, with their count.
    assert len(ticket_queries) == 2
    assert "ticket_grams(" in ticket_queries[1] and "COUNT(*) OVER" in ticket_queries[1]

    with CaptureQueriesContext(connection) as common:
        # The newest four tickets hold three matches: a page of two, and a sign of more.
        response = client.get(TICKETS, {"search": "打印", "page_size": 2})
    assert [row["title"] for row in response.json()["results"]] == ["打印 报表 7", "打印 报表 6"]
    assert response.json()["next"]
    ticket_queries = [q["sql"] for q in common.captured_queries if "tickets_ticket" in q["sql"]]
    assert not any("ticket_grams(" in sql for sql in ticket_queries)
    assert len(ticket_queries) == 1  # the page, from the newest four
    assert "LIMIT 4)" in ticket_queries[0]


def test_a_word_with_a_rare_pair_is_looked_up_in_the_index_first(
    company, api, tickets, small_window, pair_statistics
):
    assert search.likely_rare("量子计算机") and search.likely_rare("vpn")
    assert not search.likely_rare("打印") and not search.likely_rare("报表")
    client = api(company.agent)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(TICKETS, {"search": "量子计算机"})
    assert [row["id"] for row in response.json()["results"]] == [tickets[0].pk]
    ticket_queries = [q["sql"] for q in captured.captured_queries if "tickets_ticket" in q["sql"]]
    # The index's candidates (at most FEW_CANDIDATES, one found), and no window.
    assert len(ticket_queries) == 1
    assert "ticket_grams(" in ticket_queries[0] and "LIMIT 2)" in ticket_queries[0]

    # vpn: two candidates, as many as FEW_CANDIDATES: then the window and the index as before.
    with CaptureQueriesContext(connection) as captured:
        response = client.get(TICKETS, {"search": "vpn"})
    assert [row["id"] for row in response.json()["results"]] == [tickets[3].pk, tickets[1].pk]
    ticket_queries = [q["sql"] for q in captured.captured_queries if "tickets_ticket" in q["sql"]]
    assert len(ticket_queries) == 3
    assert "LIMIT 2)" in ticket_queries[0] and "LIMIT 4)" in ticket_queries[1]


def test_without_statistics_no_word_counts_as_rare(tickets, monkeypatch):
    """A table never analyzed has no statistics (here: read just now, and none)."""
    import time

    monkeypatch.setattr(search, "_pair_statistics", (time.monotonic(), None))
    assert not search.likely_rare("量子计算机")


def test_the_statistics_are_read_again_after_a_while(tickets, monkeypatch):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_ticket")
    monkeypatch.setattr(search, "_pair_statistics", (float("-inf"), None))
    pairs = search.common_pairs()
    assert pairs and all(0 < share <= 1 for share in pairs.values())
    assert search.common_pairs() is pairs  # kept
    monkeypatch.setattr(search, "PAIR_STATISTICS_SECONDS", 0.0)
    assert search.common_pairs() == pairs and search.common_pairs() is not pairs


@pytest.mark.parametrize("term", ["VpN 打印", "量子计算机", "ab", "x", "", "ÉCOLE école 12"])
def test_the_terms_pairs_are_the_databases(term):
    with connection.cursor() as cursor:
        cursor.execute("SELECT ticket_term_grams(%s)", [term])
        (pairs,) = cursor.fetchone()
    assert search.term_pairs(term) == set(pairs)


def older_word_queries(api, company) -> list[str]:
    """The ticket queries of a page of two of 卡纸, in twenty titles but none of the newest four
    (more than CANDIDATES matches), checked to be its two newest."""
    with CaptureQueriesContext(connection) as captured:
        response = api(company.agent).get(TICKETS, {"search": "卡纸", "page_size": 2})
    assert [row["title"] for row in response.json()["results"]] == [
        "打印机 卡纸 19",
        "打印机 卡纸 18",
    ]
    return [q["sql"] for q in captured.captured_queries if "tickets_ticket" in q["sql"]]


def test_a_word_of_many_older_tickets_is_read_on_in_order_not_sorted_from_the_index(
    company, api, tickets, small_window
):
    ticket_queries = older_word_queries(api, company)
    # The newest four, the index's candidates (counted: more than three), the page in order.
    assert len(ticket_queries) == 3
    assert "COUNT(*) OVER" in ticket_queries[1] and "ticket_grams(" in ticket_queries[1]
    assert "ticket_grams(" not in ticket_queries[2] and "LIMIT 4)" not in ticket_queries[2]


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
    assert "ticket_title_grams_idx" in plan(Ticket.objects.filter(TitleHasPairsOf("打印")))
    assert "ticket_reference_upper_idx" in plan(
        Ticket.objects.filter(Q(reference__iexact=tickets[0].reference.lower()))
    )


def test_title_keys_are_the_upper_case_titles_pairs_and_characters(tickets):
    """ticket_grams and ticket_term_grams (migrations 0009, 0014) against keys worked out by
    hand: a pair is its two code points (21 bits each), a character alone its code point as a
    pair's first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ticket_grams('VpN 打印'), ticket_grams('x'), ticket_grams(''),"
            " ticket_term_grams('VpN 打印'), ticket_term_grams('x')"
        )
        title, single, empty, term, character = cursor.fetchone()
    text = "VPN 打印"
    pairs = {(ord(a) << 21) | ord(b) for a, b in zip(text, text[1:], strict=False)}
    characters = {ord(c) << 21 for c in text}
    assert sorted(title) == sorted(pairs | characters) and len(title) == len(set(title))
    assert single == [ord("X") << 21] and empty == []
    assert set(term) == pairs and character == [ord("X") << 21]


@pytest.fixture
def own_requests(company) -> list[Ticket]:
    """The requester's own tickets (to IT, like TITLES): all they see of the list."""
    filed = []
    for title in ["打印 我的 0", "vpn 我的", "打印 我的 1", "量子计算机 我的"]:
        filed.append(
            services.file_ticket(
                requester=company.requester,
                service=company.service,
                title=title,
                form_data={"model": "14寸"},
            )
        )
    return filed


VIEWERS = ["agent", "it_head", "hr_head", "requester", "finance_agent"]


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("ordering", ["-created_at", "priority"])
def test_every_viewer_pages_through_exactly_their_visible_matches_forwards_and_back(
    company, api, tickets, own_requests, small_window, viewer, ordering
):
    client = api(getattr(company, viewer))
    by_id = {t.pk: t for t in Ticket.objects.all()}
    visible = [by_id[pk] for pk in walk(client, {"ordering": ordering}, back=True)]

    for term in [*TERMS, "我的", tickets[3].reference.lower(), own_requests[1].reference]:
        params = {"ordering": ordering, "search": term}
        assert walk(client, params, back=True) == expected(visible, term), term


def test_a_one_character_search_finds_older_titles_through_the_index(
    company, api, tickets, small_window
):
    client = api(company.agent)
    by_id = {t.pk: t for t in Ticket.objects.all()}
    visible = [by_id[pk] for pk in walk(client, {})]
    for character, count in [("门", 1), ("蓝", 2), ("鑫", 0)]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(TICKETS, {"search": character})
        found = [row["id"] for row in response.json()["results"]]
        assert len(found) == count and found == expected(visible, character), character
        ticket_queries = [
            q["sql"] for q in captured.captured_queries if "tickets_ticket" in q["sql"]
        ]
        # Less than a page of 50 among the newest four: then the index's candidates, sorted.
        assert len(ticket_queries) == 2, character
        assert "ticket_grams(" in ticket_queries[1] and "COUNT(*) OVER" in ticket_queries[1]


def test_a_rare_character_is_looked_up_in_the_index_first(
    company, api, tickets, small_window, pair_statistics
):
    assert search.likely_rare("鑫") and search.likely_rare("量")
    assert not search.likely_rare("打")
    with CaptureQueriesContext(connection) as captured:
        response = api(company.agent).get(TICKETS, {"search": "量"})
    assert [row["title"] for row in response.json()["results"]] == ["量子计算机 借用"]
    ticket_queries = [q["sql"] for q in captured.captured_queries if "tickets_ticket" in q["sql"]]
    assert len(ticket_queries) == 1 and "ticket_grams(" in ticket_queries[0]


def explained(queryset) -> list[dict]:
    """The plan PostgreSQL ran for the queryset, as a flat list of its nodes."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        # Small test tables are read whole and sorted; forbid that to see what the indexes do.
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        (plan,) = cursor.fetchone()
    if isinstance(plan, str):
        plan = json.loads(plan)
    nodes, todo = [], [plan[0]["Plan"]]
    while todo:
        node = todo.pop(0)
        nodes.append(node)
        todo += node.get("Plans", [])
    return nodes


def test_the_newest_tickets_are_read_in_list_order_from_the_index_until_a_page_of_matches(
    company, tickets
):
    scope = selectors.visible_ticket_rows(company.agent).order_by(
        order_expression("-created_at"), order_expression("-id")
    )
    # The newest titles: 门禁卡 补办, then 打印 报表 7, 6, 5, ...: a page of three is found
    # after reading four of the WINDOW newest tickets.
    nodes = explained(search.among(scope.filter(matching("打印"))[:3], scope[: search.WINDOW]))
    assert not any(node["Node Type"] == "Sort" for node in nodes)
    read = [node for node in nodes if node.get("Index Name") == "ticket_created_idx"]
    assert len(read) == 1 and read[0]["Node Type"] == "Index Scan"
    assert read[0]["Actual Rows"] == 4


def test_a_caseless_term_is_one_that_upper_casing_leaves_alone_and_makes_from_nothing_else():
    """The ranges of tickets.search.CASELESS_RANGES against Python's Unicode case tables (full
    mapping): a character in them upper-cases to itself, and no other character's upper case
    holds one."""
    for low, high in search.CASELESS_RANGES:
        for code in range(ord(low), ord(high) + 1):
            assert chr(code).upper() == chr(code) == chr(code).lower(), hex(code)
    for code in range(sys.maxunicode + 1):
        character = chr(code)
        upper = character.upper()
        if upper != character:
            assert not any(caseless(made) for made in upper), hex(code)


# Titles with characters whose upper case is another one, or several (ß, ŉ, ﬀ, İ), fullwidth
# letters, Greek, and the Chinese words the terms are made of.
TRICKY_TITLES = [
    "Straße 打印",
    "ŉ 打印机",
    "ﬀ（打印）",
    "İstanbul 报表",
    "ＶＰＮ 连接",
    "ｖｐｎ 连接",
    "Σίσυφος ：报表 7",
    "打 印",
    "打印　报表",
]


@pytest.mark.parametrize(
    "term", ["打印", "报表 7", "：报表", "（打印）", "　报表", "打 印", "ＶＰＮ", "ß", "ŉ"]
)
def test_a_caseless_term_matches_exactly_the_tickets_the_case_folding_comparison_does(
    company, term
):
    for title in TRICKY_TITLES:
        services.file_ticket(
            requester=company.requester,
            service=company.service,
            title=title,
            form_data={"model": "14寸"},
        )
    folded = Q(reference__iexact=term) | Q(title__icontains=term)
    found = set(Ticket.objects.filter(matching(term)).values_list("pk", flat=True))
    assert found == set(Ticket.objects.filter(folded).values_list("pk", flat=True))
    assert found  # every term is in some title, in some case


def test_searches_of_one_shape_share_their_statements_with_the_term_bound(
    company, api, tickets, small_window
):
    client = api(company.agent)
    statements._kept.clear()
    response = client.get(TICKETS, {"search": "量子计算机"})
    assert [row["id"] for row in response.json()["results"]] == [tickets[0].pk]
    kept = set(statements._kept)
    assert {key[0] for key in kept} == {"search window", "search candidates"}

    # Another rare Chinese word: the same two statements, with the other term.
    response = client.get(TICKETS, {"search": "蓝牙耳机"})
    assert [row["id"] for row in response.json()["results"]] == [tickets[2].pk]
    assert set(statements._kept) == kept


def test_the_candidates_query_is_planned_for_each_term_never_prepared(
    company, api, tickets, small_window
):
    # psycopg prepares what a connection runs twice, and PostgreSQL then plans a prepared
    # statement once for any term: for the candidates, a plan joining the visible tickets'
    # index (18 ms a search for a word in one title at 1M, 3 ms planned for the word).
    client = api(company.agent)
    for term in ["量子计算机", "蓝牙耳机", "量子计算机", "门禁卡"]:
        assert client.get(TICKETS, {"search": term}).json()["results"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("LIMIT 4)" in sql for sql in prepared)  # the newest four's, run four times
    assert not any("COUNT(*) OVER" in sql for sql in prepared)


def test_a_common_word_of_older_tickets_is_read_on_in_order_before_its_candidates_are_counted(
    company, api, tickets, small_window, pair_statistics, monkeypatch
):
    # 卡纸's one pair is in most titles, but none of the newest four: the newest sixteen hold
    # a page of two, and its candidates are never counted.
    monkeypatch.setattr(search, "LONG_WINDOW", 16)
    assert search.likely_common("卡纸") and not search.likely_common("量子计算机")
    ticket_queries = older_word_queries(api, company)
    assert len(ticket_queries) == 2  # the newest four, then the newest sixteen
    assert "LIMIT 4)" in ticket_queries[0] and "LIMIT 16)" in ticket_queries[1]
    assert not any("COUNT(*) OVER" in sql for sql in ticket_queries)


def test_a_viewer_who_sees_few_tickets_has_the_index_asked_first(
    company, api, tickets, small_window, pair_statistics, monkeypatch
):
    # The statistics of the departments: IT provides nearly every ticket, Finance a few.
    monkeypatch.setattr(search, "_department_statistics", (float("-inf"), None))
    monkeypatch.setattr(search, "NARROW_SHARE", 0.5)
    share = search.visible_share
    assert share({"provided_0": company.it.pk}) > 0.5 > share({"provided_0": company.finance.pk})
    assert share({"user_id": company.requester.pk}) == 0.0  # their own requests only

    def first_ticket_query(viewer) -> str:
        with CaptureQueriesContext(connection) as captured:
            response = api(viewer).get(TICKETS, {"search": "打印"})
        assert response.status_code == 200
        return next(q["sql"] for q in captured.captured_queries if "tickets_ticket" in q["sql"])

    # 打印 is common: IT's agent reads the newest tickets first; Finance's agent and an
    # employee ask the index for a few candidates.
    assert "COUNT(*) OVER" not in first_ticket_query(company.agent)
    for viewer in (company.finance_agent, company.requester):
        assert "COUNT(*) OVER" in first_ticket_query(viewer), viewer
