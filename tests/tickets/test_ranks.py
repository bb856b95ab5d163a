"""Priority and status order by rank (tickets.ranks): PostgreSQL's rank functions (migration
0011, which its index is built on) and the CASE other databases use give the same ranks."""

import pytest
from django.db import connection

from tickets.models import Priority, Status, Ticket
from tickets.ranks import PRIORITY_RANK, RANKED, STATUS_RANK, Rank

pytestmark = pytest.mark.django_db


def test_every_priority_and_status_has_its_own_rank_in_the_expected_order():
    assert sorted(PRIORITY_RANK, key=PRIORITY_RANK.get) == [
        Priority.URGENT,
        Priority.HIGH,
        Priority.NORMAL,
        Priority.LOW,
    ]
    assert set(PRIORITY_RANK) == set(Priority) and set(STATUS_RANK) == set(Status)
    assert sorted(STATUS_RANK.values()) == list(range(len(Status)))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the rank functions are PostgreSQL's")
@pytest.mark.parametrize("column", sorted(RANKED))
def test_the_migrations_rank_functions_give_the_python_ranks(column):
    function, ranks = RANKED[column]
    with connection.cursor() as cursor:
        for value in [*ranks, "something else"]:
            cursor.execute(f"SELECT {function}(%s)", [value])  # noqa: S608 - our names
            assert cursor.fetchone()[0] == ranks.get(value, len(ranks)), value


@pytest.mark.parametrize("column", sorted(RANKED))
def test_the_case_written_for_other_databases_gives_the_same_ranks(company, column):
    """Rank compiles to CASE where the functions do not exist (SQLite): checked here by
    evaluating that CASE on PostgreSQL against the function's answer for every value."""
    _function, ranks = RANKED[column]
    ticket = Ticket.objects.create(
        reference="RANK-1",
        title="排序",
        service=company.service,
        provider_department=company.it,
        requester=company.requester,
        requester_department=company.hr,
        created_at="2026-11-24T08:00:00Z",
    )
    for value in ranks:
        Ticket.objects.filter(pk=ticket.pk).update(**{column: value})
        row = Ticket.objects.filter(pk=ticket.pk).annotate(
            by_case=Rank(column).case(), by_rank=Rank(column)
        )
        assert row.values_list("by_case", "by_rank").get() == (ranks[value], ranks[value])
