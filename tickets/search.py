"""The ticket list's `?search=`: a reference, or words in the title, fast at a million tickets.

Which plan is fast depends on how common the word is, and PostgreSQL cannot tell: it estimates
a LIKE '%word%' from a sample. A word in many titles is found at once by reading the list in its
own order and stopping at a page of matches; a word in few titles only by an index, which hands
over every match to sort (1.5 s for a word in 100,000 titles). So `SearchPages` asks both ways,
each in one query that reads a bounded head of rows (`among`): first the list's newest `WINDOW`
tickets, in its order, stopping at a page of matches; when those hold less than a page, the
matches the titles' index (their character pairs and characters, migrations 0009 and 0014) and
the reference's find, if fewer than `CANDIDATES`, sorted; else it reads on in order (a word of
many older tickets). A word with a pair (or a character alone) that PostgreSQL's statistics of
the index do not count among the common ones
(`likely_rare`) asks the index first, for at most `FEW_CANDIDATES`: reading 2,000 newest
tickets for nothing cost a rare word 2.4 ms of its 3.3 ms of SQL at 1M. Each query is a
statement compiled once per shape of list (servicedesk.statements.fetch), the term bound.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.models import BooleanField, Count, F, Func, Q, QuerySet, Value, Window
from django.db.models.sql.datastructures import BaseTable

from servicedesk.pagination import CompiledRows, cursor_slots
from servicedesk.statements import fetch

from .models import Ticket

MAX_LENGTH = 100

# Reading 2,000 tickets in order costs about 1 ms at 1M: a word in one title in forty or more
# fills a page of 50 from them.
WINDOW = 2000
# A word with more matches than this, none of them recent, is found by reading on in order.
CANDIDATES = 5000
# A word likely common (`likely_common`) with no page among the WINDOW newest is looked for
# among this many, in order, before its candidates are counted: a word of a tenth of the titles
# at 1M, none among the 25,000 newest, took 39 ms: 30 counting 5,000 of its candidates, 9
# reading on in order; 7 ms now. A page found in none of them costs about 20 ms more.
LONG_WINDOW = 50_000
# The column that counts the index's matches, next to a page of them.
COUNTED = "search_candidates"
# A word likely rare (`likely_rare`) is looked up in the index first, for at most this many
# candidates: few enough to read at once (1 ms at 1M), so a word that turns out common costs
# little before the window.
FEW_CANDIDATES = 500
# A pair in at least this share of titles may fill a page from the WINDOW newest (51 of 2,000).
COMMON_SHARE = 0.025
# PostgreSQL's statistics of the pairs are read again after this long (ANALYZE renews them).
PAIR_STATISTICS_SECONDS = 600.0
# A viewer who sees less than this share of the tickets (`visible_share`) has a word looked up
# in the index first, as a rare one (up to FEW_CANDIDATES), and reads no LONG_WINDOW: their
# newest tickets are found only by walking every department's newest (an agent of a department
# with 1 % of the tickets: 40-50 ms for a word in few of theirs at 1M, 8-9 ms now; a word in
# more than FEW_CANDIDATES of theirs 6 → 23 ms).
NARROW_SHARE = 0.05


def search_term(value: str | None) -> str:
    return (value or "").strip()[:MAX_LENGTH]


def matching(term: str, pattern: str | None = None, *, folded: bool | None = None) -> Q:
    """What `?search=` means, on every database: the reference, or a part of the title, in
    any case. A term that case folding leaves alone, and that no other text folds into (a
    Chinese word), is compared as it is (`folded` False): folding each title read cost more
    than reading it (0.6 ms of the 2,000 a search reads first, issue #6). `pattern` and
    `folded` are the term's unless given (by a statement compiled with stand-ins)."""
    if folded is None:
        folded = not caseless(term)
    title = TitleLike(like_pattern(term) if pattern is None else pattern, folded=folded)
    return _reference(term, folded) | Q(title)


def _reference(term: str, folded: bool) -> Q:
    return Q(reference__iexact=term) if folded else Q(reference=term)


def like_pattern(term: str) -> str:
    """The LIKE pattern of a part of a title: the term, its wildcards escaped, anywhere."""
    return f"%{connections[DEFAULT_DB_ALIAS].ops.prep_for_like_query(term)}%"


class TitleLike(Func):
    """`title LIKE pattern`, both in upper case if `folded`, as Django's `title__icontains` or
    `title__contains`, but with the pattern one value as it is given, which a statement binds
    (Django's lookups bind the term wrapped in the pattern)."""

    output_field = BooleanField()

    def __init__(self, pattern: str, *, folded: bool) -> None:
        super().__init__(F("title"), Value(pattern))
        self.folded = folded

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        title, title_params = compiler.compile(self.source_expressions[0])
        pattern, pattern_params = compiler.compile(self.source_expressions[1])
        if self.folded:
            title, pattern = f"UPPER({title})", f"UPPER({pattern})"
        escape = " ESCAPE '\\'" if connection.vendor == "sqlite" else ""  # as Django's
        return f"{title} LIKE {pattern}{escape}", [*title_params, *pattern_params]


# Characters that upper-casing maps to themselves and makes out of no other character, in
# Unicode's full mapping (SpecialCasing, as ICU folds) and its simple one (as libc does):
# CJK ideographs and punctuation, digits, spaces and fullwidth signs. For a term of these,
# `UPPER(text) LIKE UPPER('%term%')` holds exactly when `text LIKE '%term%'` does, and
# `UPPER(reference) = UPPER(term)` when `reference = term` (tests/tickets/test_search.py
# checks the ranges against Python's Unicode tables).
CASELESS_RANGES = (
    (" ", " "),
    ("0", "9"),
    ("\u3000", "\u303f"),  # CJK symbols and punctuation
    ("\u3400", "\u4dbf"),  # CJK ideographs, extension A
    ("\u4e00", "\u9fff"),  # CJK ideographs
    ("\uff01", "\uff20"),  # fullwidth signs and digits, before the letters
    ("\uff3b", "\uff40"),
    ("\uff5b", "\uff65"),
)


def caseless(term: str) -> bool:
    """Whether the term is made of CASELESS_RANGES only."""
    return all(any(low <= char <= high for low, high in CASELESS_RANGES) for char in term)


class TitleHasPairsOf(Func):
    """ticket_grams(title) @> ticket_term_grams(term): the title index's condition (migrations
    0009 and 0014), which every title containing the term (in UPPER case) meets: all the term's
    pairs, or the one character of a one-character term."""

    output_field = BooleanField()

    def __init__(self, term: str) -> None:
        super().__init__(F("title"), Value(term))

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        title, title_params = compiler.compile(self.source_expressions[0])
        term, term_params = compiler.compile(self.source_expressions[1])
        return f"ticket_grams({title}) @> ticket_term_grams({term})", [
            *title_params,
            *term_params,
        ]


def term_pairs(term: str) -> set[int]:
    """`ticket_term_grams(term)` (migrations 0009, 0014) as Python computes it: each pair of code
    points of the upper-cased term in one integer, or a lone character's code point as a pair's
    first. Python's and the database's upper case can differ for a few letters (ß): then a pair
    is only not found among the common ones."""
    folded = term.upper()
    if len(term) == 1:
        return {ord(folded[0]) << 21}
    return {(ord(a) << 21) | ord(b) for a, b in zip(folded, folded[1:], strict=False)}


def _kept(kept: tuple[float, Any], read: Callable[[Any], Any]) -> tuple[float, Any]:
    """Statistics `kept` as (read at, value), read again with `read(cursor)` once they are
    PAIR_STATISTICS_SECONDS old (ANALYZE renews PostgreSQL's)."""
    if time.monotonic() - kept[0] < PAIR_STATISTICS_SECONDS:
        return kept
    with connections[router.db_for_read(Ticket)].cursor() as cursor:
        return time.monotonic(), read(cursor)


_pair_statistics: tuple[float, dict[int, float] | None] = (float("-inf"), None)


def common_pairs() -> dict[int, float] | None:
    """The share of titles holding each of the most common pairs, from PostgreSQL's statistics
    of the title index (ANALYZE's most common elements: every pair not listed is in fewer
    titles than the least common listed), kept by the process for PAIR_STATISTICS_SECONDS;
    None without statistics (a table not analyzed yet)."""
    global _pair_statistics
    _pair_statistics = _kept(_pair_statistics, _read_pairs)
    return _pair_statistics[1]


def _read_pairs(cursor: Any) -> dict[int, float] | None:
    cursor.execute(
        "SELECT most_common_elems::text, most_common_elem_freqs FROM pg_stats"
        " WHERE schemaname = current_schema() AND tablename = 'ticket_title_grams_idx'"
    )
    row = cursor.fetchone()
    if row is None or row[0] is None:
        return None
    elements = [int(element) for element in row[0].strip("{}").split(",")]
    return dict(zip(elements, row[1], strict=False))  # the shares, then min, max, nulls


UNLISTED = 0  # the key of every department the statistics do not list (ids are positive)
_department_statistics: tuple[float, dict[str, dict[int, float]] | None] = (float("-inf"), None)


def department_shares() -> dict[str, dict[int, float]] | None:
    """The share of tickets of each of the most common provider and requester departments
    (PostgreSQL's statistics: `{"provider_department_id": {id: share}, ...}`), kept as the
    pairs' are; None without statistics."""
    global _department_statistics
    _department_statistics = _kept(_department_statistics, _read_department_shares)
    return _department_statistics[1]


def _read_department_shares(cursor: Any) -> dict[str, dict[int, float]] | None:
    cursor.execute(
        "SELECT attname, most_common_vals::text, most_common_freqs, null_frac FROM pg_stats"
        " WHERE schemaname = current_schema() AND tablename = 'tickets_ticket'"
        " AND attname IN ('provider_department_id', 'requester_department_id')"
    )
    found: dict[str, dict[int, float]] = {}
    for column, values, freqs, nulls in cursor.fetchall():
        if values is None:
            continue
        listed = dict(zip((int(v) for v in values.strip("{}").split(",")), freqs, strict=True))
        # Any department not listed: in fewer tickets than the least listed, and than all
        # those not listed together.
        listed[UNLISTED] = min(min(freqs), max(0.0, 1.0 - sum(freqs) - nulls))
        found[column] = listed
    return found or None


def visible_share(values: dict[str, Any]) -> float | None:
    """At most the share of the tickets a list's viewer sees, from the departments they provide
    for and head (`ticket_row_visibility`'s values; their own requests left out). None without
    statistics."""
    if not indexed():
        return None
    shares = department_shares()
    if shares is None:
        return None
    total = 0.0
    for prefix, column in (
        ("provided_", "provider_department_id"),
        ("headed_", "requester_department_id"),
    ):
        listed = shares.get(column, {})
        unlisted = listed.get(UNLISTED, 0.0)
        total += sum(
            listed.get(value, unlisted) for name, value in values.items() if name.startswith(prefix)
        )
    return total


def likely_rare(term: str) -> bool:
    """Whether one of the term's pairs is in fewer than COMMON_SHARE of the titles, so the
    newest tickets are unlikely to hold a page of its matches (PostgreSQL only)."""
    if not indexed():
        return False
    pairs = common_pairs()
    if pairs is None:
        return False
    return any(pairs.get(pair, 0.0) < COMMON_SHARE for pair in term_pairs(term))


def likely_common(term: str) -> bool:
    """Whether PostgreSQL's statistics count every pair of the term among the common ones (in
    COMMON_SHARE of the titles or more), so that reading on in order finds a page of its
    matches soon even when the newest WINDOW tickets hold none (PostgreSQL only)."""
    if not indexed():
        return False
    pairs = common_pairs()
    if pairs is None:
        return False
    return all(pairs.get(pair, 0.0) >= COMMON_SHARE for pair in term_pairs(term))


def indexed() -> bool:
    """Whether the search's indexes exist: PostgreSQL, where migrations 0009 and 0014 made them."""
    return connections[router.db_for_read(Ticket)].vendor == "postgresql"


def index_condition(term: str, *, folded: bool | None = None) -> Q:
    """A condition the indexes answer, implied by `matching(term)`: the reference index, or the
    titles holding all the term's pairs (or its one character)."""
    if folded is None:
        folded = not caseless(term)
    return _reference(term, folded) | Q(TitleHasPairsOf(term))


class FirstRows(BaseTable):
    """A query's table read as the rows of another query of that table, under the table's own
    name: `FROM (SELECT ... LIMIT n) "tickets_ticket"`."""

    def __init__(self, table: BaseTable, rows: Any) -> None:
        super().__init__(table.table_name, table.table_alias)
        self.rows = rows

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        sql, params = self.rows.get_compiler(connection=connection).as_sql()
        return f"({sql}) {connection.ops.quote_name(self.table_alias)}", list(params)


def among(queryset: QuerySet, rows: QuerySet, *, in_order: bool = True) -> QuerySet:
    """`queryset` as it would be if its table held only `rows` (a query of that table, sliced):
    its conditions, order and subqueries apply to those rows, which PostgreSQL reads lazily in
    their own order (a LIMIT keeps it from pushing any condition into them). A head of the list
    read in one query: no query first for where the head ends. Not `in_order`: any of `rows`."""
    head = rows.query.clone()  # the table's columns under their own names, and nothing else
    head.clear_select_fields()
    head.set_annotation_mask(())  # still there for its order (a rank)
    head.default_cols = True
    if not in_order:
        head.clear_ordering(force=True)
    queryset = queryset.all()  # a copy of the query, whose table is replaced
    query = queryset.query
    alias = query.get_initial_alias()
    query.alias_map[alias] = FirstRows(query.alias_map[alias], head)
    return queryset


@contextmanager
def planned_for_its_values() -> Iterator[None]:
    """Queries run inside are planned for their values each time, not prepared: psycopg
    prepares a statement the second time a connection runs it, and PostgreSQL then plans it
    once for any values after five runs. The candidates' plan for any term joins the visible
    tickets' index to the titles': a search for a word in one title took 18 ms, not 3, once
    words of many older tickets had been searched on the connection (issue #6)."""
    connection = connections[router.db_for_read(Ticket)]
    connection.ensure_connection()
    psycopg_connection = connection.connection
    threshold = psycopg_connection.prepare_threshold
    psycopg_connection.prepare_threshold = None
    try:
        yield
    finally:
        psycopg_connection.prepare_threshold = threshold


class SearchPages(CompiledRows):
    """The matches of `term` in a ticket list, paged as KeysetCursorPagination pages `rows`
    (tickets.filters.filtered_ticket_rows, without the search): the term and its pattern are
    bound like the list's values, and whether it is folded is part of the shape."""

    def __init__(self, rows: CompiledRows, term: str) -> None:
        super().__init__(rows.shape, rows.build, rows.values, rows, rows.planned_for)
        self.term = term
        folded = not caseless(term)
        values = {**rows.values, "search_term": term, "search_pattern": like_pattern(term)}
        shape = (rows.shape, "search", folded)
        # The list's matches; counted (a window over them all); the indexes' candidates.
        # The list's values written into the SQL (`CompiledRows`), the term bound.
        planned = self.planned_for
        self.matches = CompiledRows(
            shape, partial(self._matches, folded, False), values, rows, planned
        )
        self.counted = CompiledRows(
            shape, partial(self._matches, folded, True), values, rows, planned
        )
        self.candidates = CompiledRows(
            shape, partial(self._candidates, folded), values, rows, planned
        )

    def _matches(self, folded: bool, counted: bool, ordering: Any, **values: Any) -> QuerySet:
        term, pattern = values["search_term"], values["search_pattern"]
        matches = self.build(ordering, **values).filter(matching(term, pattern, folded=folded))
        return matches.annotate(**{COUNTED: Window(Count("*"))}) if counted else matches

    def _candidates(self, folded: bool, ordering: Any, **values: Any) -> QuerySet:
        term = values["search_term"]
        indexed = index_condition(term, folded=folded)
        return self._matches(folded, False, ordering, **values).filter(indexed)

    def segment(self, ordering: Any, position: Any, index: int, limit: int) -> list[dict[str, Any]]:
        empty, cursor = cursor_slots(position)
        ordering = tuple(ordering)
        values = {**self.matches.values, **cursor}
        planned = self.planned_for
        shape = (self.matches.shape, ordering, empty, index, limit)

        def candidates(most: int, **values: Any) -> QuerySet:
            """The page among at most `most` of the indexes' candidates, counted."""
            page = self.counted._segment(ordering, empty, index, limit, **values)
            head = self.candidates._segment(ordering, empty, index, most, **values)
            return among(page, head, in_order=False)

        def all_candidates(most: int) -> list[dict[str, Any]] | None:
            """The page if the indexes find fewer than `most` candidates (all the matches)."""
            build = partial(candidates, most)
            with planned_for_its_values():
                found = fetch(
                    ("search candidates", most, shape), build, written_in=planned, **values
                )
            if found and found[0][COUNTED] >= most:
                return None
            for row in found:
                del row[COUNTED]
            return found

        # A word whose pairs are not all common (PostgreSQL's statistics) fills no page from the
        # newest tickets: the index is asked first, for a few candidates. So is it for a viewer
        # who sees few tickets: their newest are found only among every department's.
        share = visible_share(self.matches.values)
        narrow = share is not None and share < NARROW_SHARE
        if narrow or likely_rare(self.term):
            found = all_candidates(FEW_CANDIDATES)
            if found is not None:
                return found

        def window(size: int, **values: Any) -> QuerySet:
            page = self.matches._segment(ordering, empty, index, limit, **values)
            return among(page, self._segment(ordering, empty, index, size, **values))

        # A common word of older tickets is read on in order, but not by a viewer who sees few
        # tickets (their newest 50,000 are most of the table's).
        sizes = (WINDOW, LONG_WINDOW) if likely_common(self.term) and not narrow else (WINDOW,)
        for size in sizes:
            build = partial(window, size)
            found = fetch(("search window", size, shape), build, written_in=planned, **values)
            if len(found) == limit:
                return found

        # Fewer than a page among the recent tickets: a rare word, which the index finds, or
        # a word of older tickets (or a list shorter than WINDOW). The index hands over every
        # match to be sorted, so it hands over at most CANDIDATES, counted next to the page.
        found = all_candidates(CANDIDATES)
        if found is None:
            return self.matches.segment(ordering, position, index, limit)
        return found
