"""Statements (servicedesk.statements): querysets compiled once and run with each call's values
read what the querysets read, in one query, with no value of one call left in the next."""

import pytest
from django.db import connection
from django.db.models import Count

from servicedesk.statements import Statement, fetch, slot, text_slot, time_slot
from tests.factories import UserFactory
from tickets import services
from tickets.models import Comment, Ticket
from tickets.ranks import Rank

pytestmark = pytest.mark.django_db


def filed(company, title: str) -> Ticket:
    return services.file_ticket(
        requester=company.requester,
        service=company.service,
        title=title,
        form_data={"model": "14寸"},
    )


def test_each_run_reads_the_rows_of_its_own_values(company):
    first, second = filed(company, "第一张"), filed(company, "第二张")
    services.add_comment(ticket=first, author=company.agent, body="一")
    services.add_comment(ticket=second, author=company.agent2, body="二")
    services.add_comment(ticket=second, author=company.agent, body="三")
    ticket_id, author_id = slot(0), slot(1)
    comments = Comment.objects.filter(ticket_id=ticket_id, author_id=author_id)
    statement = Statement(comments.values_list("body"), ticket_id=ticket_id, author_id=author_id)
    assert statement.rows(ticket_id=first.pk, author_id=company.agent.pk) == [("一",)]
    assert statement.rows(ticket_id=second.pk, author_id=company.agent.pk) == [("三",)]
    assert statement.rows(ticket_id=second.pk, author_id=company.agent2.pk) == [("二",)]
    assert statement.rows(ticket_id=first.pk, author_id=company.agent2.pk) == []


def test_instances_come_with_their_select_related_rows_in_one_query(
    company, django_assert_num_queries
):
    ticket = filed(company, "整张")
    reference = text_slot(0)
    tickets = Ticket.objects.select_related("service", "requester", "assignee")
    statement = Statement(tickets.filter(reference=reference), reference=reference)
    with django_assert_num_queries(1):
        (read,) = statement.instances(reference=ticket.reference)
        assert (read.pk, read.title, read.created_at) == (ticket.pk, "整张", ticket.created_at)
        assert read.service.name == company.service.name
        assert str(read.requester) == str(company.requester)
        assert read.assignee is None
    assert statement.instances(reference="IT-0000-000000") == []


def test_instances_carry_their_annotations(company):
    ticket = filed(company, "注释")
    services.add_comment(ticket=ticket, author=company.agent, body="一")
    services.add_comment(ticket=ticket, author=company.agent, body="二")
    ticket_id = slot(0)
    counted = Ticket.objects.filter(pk=ticket_id).annotate(replies=Count("comments"))
    (read,) = Statement(counted, ticket_id=ticket_id).instances(ticket_id=ticket.pk)
    assert (read.reference, read.replies) == (ticket.reference, 2)


def test_dicts_are_named_like_values(company):
    ticket = filed(company, "字典")
    ticket_id = slot(0)
    rows = Ticket.objects.filter(pk=ticket_id).values("reference", "created_at")
    assert Statement(rows, ticket_id=ticket_id).dicts(ticket_id=ticket.pk) == [
        {"reference": ticket.reference, "created_at": ticket.created_at}
    ]


def test_a_slot_the_query_does_not_use_is_refused(company):
    ticket_id = slot(0)
    with pytest.raises(ValueError, match="slot user_id"):
        Statement(
            Comment.objects.filter(ticket_id=ticket_id).values("id"),
            ticket_id=ticket_id,
            user_id=slot(1),
        )
    unused = UserFactory()
    with pytest.raises(ValueError, match="slot ticket_id"):
        Statement(Comment.objects.filter(ticket_id=unused.pk).values("id"), ticket_id=ticket_id)


def test_times_and_ranks_bound_as_the_orm_binds_them(company):
    """A cursor's time and a rank (the ORM binds an integer expression as a 32-bit integer)."""
    tickets = [filed(company, f"第{n}张") for n in range(4)]
    for ticket, priority in zip(tickets, ["low", "urgent", "normal", "urgent"], strict=True):
        Ticket.objects.filter(pk=ticket.pk).update(priority=priority)
    rank, since = slot(0), time_slot(1)
    rows = (
        Ticket.objects.annotate(rank=Rank("priority"))
        .filter(rank__gt=rank, created_at__gte=since)
        .order_by("rank", "id")
        .values("id", "rank")
    )
    statement = Statement(rows, rank=rank, since=since)
    start = tickets[0].created_at
    assert statement.dicts(rank=0, since=start) == [
        {"id": tickets[2].pk, "rank": 2},
        {"id": tickets[0].pk, "rank": 3},
    ]
    assert statement.dicts(rank=-1, since=tickets[3].created_at) == [
        {"id": tickets[3].pk, "rank": 0}
    ]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL plans prepared statements"
)
def test_constants_are_written_into_the_sql_and_only_the_slots_bound(company):
    open_ticket, closed = filed(company, "开着"), filed(company, "关了")
    Ticket.objects.filter(pk=closed.pk).update(status="closed")
    department = slot(0)
    rows = Ticket.objects.filter(
        provider_department_id=department, status__in=["new", "assigned"]
    ).values("id")
    statement = Statement(rows, constants_in_sql=True, department=department)
    assert "'new'" in statement.sql and "'assigned'" in statement.sql
    assert statement.params == [department] and statement.sql.count("%s") == 1
    assert statement.dicts(department=company.it.pk) == [{"id": open_ticket.pk}]
    assert statement.dicts(department=company.hr.pk) == []


def test_fetch_compiles_once_per_key_and_falls_back_to_the_orm(company, django_assert_num_queries):
    first, second = filed(company, "一号"), filed(company, "二号")
    built = []

    def by_id(ticket_id: int):
        built.append(ticket_id)
        return Ticket.objects.filter(pk=ticket_id).values("title")

    key = ("test-fetch", id(built))
    with django_assert_num_queries(2):
        assert fetch(key, by_id, ticket_id=first.pk) == [{"title": "一号"}]
        assert fetch(key, by_id, ticket_id=second.pk) == [{"title": "二号"}]
    assert len(built) == 1  # built with its stand-in once, then only bound

    def nothing(ticket_id: int):  # no rows by construction: nothing to compile
        return Ticket.objects.filter(pk__in=[]).values("title")

    assert fetch(("test-fetch-empty", id(built)), nothing, ticket_id=first.pk) == []


def test_values_written_in_are_literals_of_the_sql_and_the_others_bound(company):
    """`fetch(..., written_in=...)`: those values are written into the SQL (quoted, its %
    escaped), so PostgreSQL plans for them; the rest stay parameters; rows as the ORM's."""
    first = filed(company, "O'Brien 100% 完成")
    second = filed(company, "O'Brien 100% 完成")
    filed(company, "别的")
    sent: list[tuple[str, list]] = []

    def record(execute, sql, params, many, context):
        sent.append((sql, list(params or ())))
        return execute(sql, params, many, context)

    def build(ticket_id: int, title: str):
        return Ticket.objects.filter(pk=ticket_id, title=title, title__contains="100%").values("id")

    key = ("test-written-in", id(sent))
    with connection.execute_wrapper(record):
        for ticket in (first, second):
            assert fetch(
                key,
                build,
                written_in=["ticket_id", "title"],
                ticket_id=ticket.pk,
                title=ticket.title,
            ) == [{"id": ticket.pk}]
        assert fetch(key, build, written_in=["title"], ticket_id=first.pk, title="别的") == []
    (one, _), (two, _), (three, bound) = sent
    assert f"= {first.pk}" in one and f"= {second.pk}" in two and one != two
    assert "'O''Brien 100%% 完成'" in one and "'别的'" in three
    assert bound == [first.pk]  # the id not written in: bound
