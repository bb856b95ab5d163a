"""The ticket list's `?search=`: a reference, or words in the title, fast at a million tickets.

Which plan is fast depends on how common the word is, and PostgreSQL cannot tell: it estimates
a LIKE '%word%' from a sample. A word in many titles is found at once by reading the list in its
own order and stopping at a page of matches; a word in few titles only by an index, which hands
over every match to sort (1.5 s for a word in 100,000 titles). So `SearchPages` asks both ways:
first among the newest `WINDOW` tickets of the list, in its order; when those hold less than a
page of matches, through the titles' bigram index (migration 0009) and the reference's if fewer
than `CANDIDATES` tickets match, else by reading on in order (a word of many older tickets).
"""

from typing import Any

from django.db import connections
from django.db.models import BooleanField, F, Func, Q, QuerySet, Value

from servicedesk.pagination import key_field, ordering_fields

MAX_LENGTH = 100

# Reading 2,000 tickets in order costs about 2 ms at 1M: a word in one title in forty or more
# fills a page of 50 from them.
WINDOW = 2000
# A word with more matches than this, none of them recent, is found by reading on in order.
CANDIDATES = 5000


def search_term(value: str | None) -> str:
    return (value or "").strip()[:MAX_LENGTH]


def matching(term: str) -> Q:
    """What `?search=` means, on every database: the reference, or a part of the title."""
    return Q(reference__iexact=term) | Q(title__icontains=term)


class TitleHasPairsOf(Func):
    """ticket_bigrams(title) @> ticket_bigrams(term): the bigram index's condition, which every
    title containing the term (in UPPER case) meets. Only for terms of two or more characters:
    a single character has no pair, and every title would be a candidate."""

    output_field = BooleanField()

    def __init__(self, term: str) -> None:
        super().__init__(F("title"), Value(term))

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        title, title_params = compiler.compile(self.source_expressions[0])
        term, term_params = compiler.compile(self.source_expressions[1])
        return f"ticket_bigrams({title}) @> ticket_bigrams({term})", [
            *title_params,
            *term_params,
        ]


def indexed(queryset: QuerySet) -> bool:
    """Whether the search's indexes exist: PostgreSQL, where migration 0009 made them."""
    return connections[queryset.db].vendor == "postgresql"


def index_condition(term: str) -> Q:
    """A condition the indexes answer, implied by `matching(term)` (a term of two or more
    characters): the reference index, or the titles holding all the term's pairs."""
    return Q(reference__iexact=term) | Q(TitleHasPairsOf(term))


class SearchPages:
    """The matches of `term` in a ticket list, as much of a QuerySet as CursorPagination uses
    (order_by, filter, a slice, its query). `scope` is the list without its search."""

    def __init__(self, scope: QuerySet, term: str) -> None:
        self.scope = scope
        self.model = scope.model
        self.term = term

    @property
    def query(self) -> Any:  # the ordering keys' fields (servicedesk.pagination.key_field)
        return self.scope.query

    def order_by(self, *fields: str) -> "SearchPages":
        return SearchPages(self.scope.order_by(*fields), self.term)

    def filter(self, *args: Any, **kwargs: Any) -> "SearchPages":
        return SearchPages(self.scope.filter(*args, **kwargs), self.term)

    def __getitem__(self, page: slice) -> list[Any]:
        matches = self.scope.filter(matching(self.term))
        recent = self._recent()
        if recent is None:  # a short list: reading it all is cheap
            return list(matches[page])
        found = list(matches.filter(recent)[page])
        if len(found) == page.stop - (page.start or 0):
            return found
        if len(self.term) < 2:  # no pair to look up: read the list in order
            return list(matches[page])
        # Fewer than a page among the recent tickets: a rare word, which the index finds, or
        # a word of older tickets. The index hands over every match to be sorted, so it is
        # asked first whether there are fewer than CANDIDATES (at most that many rows read).
        indexed = matches.filter(index_condition(self.term))
        if indexed.order_by().values("pk")[:CANDIDATES].count() < CANDIDATES:
            return list(indexed[page])
        return list(matches[page])

    def _recent(self) -> Q | None:
        """The first WINDOW tickets of the list in its order, as a condition on the first
        ordering field (ties at the edge come along: still a head of the list). None when
        the list is shorter than that, or has no order."""
        if not self.scope.query.order_by:
            return None
        field, descending = ordering_fields(self.scope.query.order_by)[0]
        edge = list(self.scope.values_list(field, flat=True)[WINDOW - 1 : WINDOW])
        if not edge:
            return None
        # PostgreSQL puts NULLs first in a descending order and last in an ascending one.
        nulls_first = Q(**{f"{field}__isnull": True}) if descending else None
        if edge[0] is None:
            return nulls_first if nulls_first is not None else Q()
        recent = Q(**{f"{field}__gte" if descending else f"{field}__lte": edge[0]})
        if nulls_first is not None and key_field(self.scope, field).null:
            recent |= nulls_first
        return recent
