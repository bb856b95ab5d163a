"""Read queries for ticket ratings and kudos: dashboard aggregates (one SQL aggregate each,
whatever the number of rows) and who may see which kudos."""

from collections.abc import Iterable
from datetime import datetime
from fractions import Fraction
from functools import cache
from typing import Any

from django.db.models import Count, Q, QuerySet

from departments.models import User
from departments.selectors import headed_department_ids
from servicedesk.statements import Statement, numbered_slots, numbered_values, slot
from tickets.models import Comment, Ticket, TicketEvent
from tickets.selectors import PersonNames, named_people

from .models import Kudos, Moment, TicketRating

SCORES = (1, 2, 3, 4, 5)
TOP_AGENTS = 10


def _ratings(department_id: int, start: datetime, end: datetime) -> QuerySet[TicketRating]:
    # The rating's own time: a ticket counts in the period in which it was (first) rated.
    return TicketRating.objects.filter(
        provider_department_id=department_id, created_at__gte=start, created_at__lt=end
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def _rating_groups(department_id: int, start: datetime, end: datetime) -> list[tuple]:
    """(score, end_score, best_moment, worst_moment, count) of the period's ratings: one grouped
    query (at most 5 × 5 × 5 × 5 rows) that both dashboard breakdowns are counted from, rather
    than two aggregates of ~20 filtered counts each over every rating of the period. COUNT(*),
    not of the id: it reads only columns of the covering index (rating_dept_scores_idx)."""
    return list(
        _ratings(department_id, start, end)
        .values_list("score", "end_score", "best_moment", "worst_moment")
        .annotate(n=Count("*"))
        .order_by()
    )


def _mean(total: int, count: int) -> float | None:
    # Exact (a Fraction) before the one rounding: the same figure as SQL's AVG, rounded.
    return None if not count else _round(float(Fraction(total, count)))


def _summary_of(groups: list[tuple]) -> dict[str, Any]:
    distribution = dict.fromkeys(SCORES, 0)
    count = score_total = end_total = 0
    for score, end_score, _best, _worst, n in groups:
        count += n
        score_total += score * n
        end_total += end_score * n
        if score in distribution:
            distribution[score] += n
    return {
        "count": count,
        "average_score": _mean(score_total, count),
        "average_end_score": _mean(end_total, count),
        "distribution": distribution,
    }


def _peak_end_of(groups: list[tuple]) -> dict[str, Any]:
    best = dict.fromkeys(Moment.values, 0)
    worst = dict.fromkeys(Moment.values, 0)
    end_counts = dict.fromkeys(SCORES, 0)
    end_score_totals = dict.fromkeys(SCORES, 0)
    for score, end_score, best_moment, worst_moment, n in groups:
        if best_moment in best:
            best[best_moment] += n
        if worst_moment in worst:
            worst[worst_moment] += n
        if end_score in end_counts:
            end_counts[end_score] += n
            end_score_totals[end_score] += score * n
    return {
        "best": best,
        "worst": worst,
        "by_end_score": [
            {
                "end_score": n,
                "count": end_counts[n],
                "mean_score": _mean(end_score_totals[n], end_counts[n]),
            }
            for n in SCORES
        ],
    }


def rating_summary(*, department_id: int, start: datetime, end: datetime) -> dict[str, Any]:
    """`{"count", "average_score", "average_end_score", "distribution": {1..5: n}}` of the
    ratings of a provider department in [start, end), in one query."""
    return _summary_of(_rating_groups(department_id, start, end))


def peak_end(*, department_id: int, start: datetime, end: datetime) -> dict[str, Any]:
    """The peak-end breakdown in one query: how often each moment was named best and worst,
    and for each end score (1–5) how many ratings gave it and their mean overall score."""
    return _peak_end_of(_rating_groups(department_id, start, end))


def rating_breakdowns(
    *, department_id: int, start: datetime, end: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`rating_summary` and `peak_end` of the same period from one query."""
    groups = _rating_groups(department_id, start, end)
    return _summary_of(groups), _peak_end_of(groups)


def _kudos(department_id: int, start: datetime, end: datetime) -> QuerySet[Kudos]:
    return Kudos.objects.filter(
        department_id=department_id, created_at__gte=start, created_at__lt=end
    )


def _agent_of(row: dict[str, Any]) -> User:
    return User(
        pk=row["agent_id"],
        username=row["agent__username"],
        first_name=row["agent__first_name"],
        last_name=row["agent__last_name"],
    )


def kudos_by_agent(
    *, department_id: int, start: datetime, end: datetime, limit: int = TOP_AGENTS
) -> list[tuple[User, int]]:
    """The most thanked agents of a provider department in the period (one grouped query)."""
    rows = (
        _kudos(department_id, start, end)
        .values("agent_id", "agent__username", "agent__first_name", "agent__last_name")
        .annotate(kudos=Count("pk"))
        .order_by("-kudos", "agent__username")[:limit]
    )
    return [(_agent_of(row), row["kudos"]) for row in rows]


def kudos_count(*, department_id: int, start: datetime, end: datetime) -> int:
    return _kudos(department_id, start, end).count()


def kudos_recognition(
    *, department_id: int, start: datetime, end: datetime, limit: int = TOP_AGENTS
) -> tuple[list[tuple[User, int]], int]:
    """`kudos_by_agent` and `kudos_count` of the same period from one grouped query: a row per
    thanked agent of the department (its staff, tens), the total their sum."""
    rows = list(
        _kudos(department_id, start, end)
        .values("agent_id", "agent__username", "agent__first_name", "agent__last_name")
        .annotate(kudos=Count("pk"))
        .order_by("-kudos", "agent__username")
    )
    top = [(_agent_of(row), row["kudos"]) for row in rows[:limit]]
    return top, sum(row["kudos"] for row in rows)


def visible_kudos(user: User) -> QuerySet[Kudos]:
    """Kudos a user may read: those they gave or received, their departments' (heads), all
    (admins)."""
    if not user.is_authenticated:
        return Kudos.objects.none()
    kudos = Kudos.objects.select_related("ticket", "agent", "giver", "department")
    return _visible_kudos(kudos, user.pk, user.is_staff, headed_department_ids(user))


def _visible_kudos(
    kudos: QuerySet[Kudos], user_id: int, is_staff: bool, headed: Iterable[int]
) -> QuerySet[Kudos]:
    if is_staff:
        return kudos
    condition = Q(giver_id=user_id) | Q(agent_id=user_id)
    if headed:
        condition |= Q(department_id__in=headed)
    return kudos.filter(condition)


def ticket_kudos_rows(user: User, ticket: Ticket) -> list[dict[str, Any]]:
    """The `visible_kudos` of a ticket as the ticket page lists them, oldest first: id,
    agent_id, giver_id, message, created_at and the names of `agent` and `giver` (`str(user)`).
    From a statement compiled once per process and viewer shape (servicedesk.statements): the
    queryset's building cost twice its read (issue #6)."""
    if not user.is_authenticated:
        return []
    headed = headed_department_ids(user)
    statement = _ticket_kudos_statement(user.is_staff, len(headed))
    values = {"ticket_id": ticket.pk, "user_id": user.pk} | numbered_values("headed", headed)
    return named_people(statement.dicts(**values), "agent", "giver")


@cache
def _ticket_kudos_statement(is_staff: bool, headed_count: int) -> Statement:
    ticket_id, user_id = slot(0), slot(1)
    headed = numbered_slots("headed", headed_count, first=2)
    kudos = _visible_kudos(
        Kudos.objects.filter(ticket_id=ticket_id), user_id, is_staff, list(headed.values())
    )
    rows = kudos.order_by("id").values(
        "id",
        "agent_id",
        "giver_id",
        "message",
        "created_at",
        agent_names=PersonNames("agent_id"),
        giver_names=PersonNames("giver_id"),
    )
    slots = {"ticket_id": ticket_id, **headed}
    if not is_staff:
        slots["user_id"] = user_id
    return Statement(rows, **slots)


def kudos_candidates(ticket: Ticket) -> QuerySet[User]:
    """The people who worked on a ticket and can be thanked: the assignee, anyone it was ever
    assigned to, and authors of public replies (never the requester), in one query."""
    repliers = Comment.objects.filter(ticket_id=ticket.pk, internal=False).values("author_id")
    assigned = TicketEvent.objects.filter(
        ticket_id=ticket.pk, kind=TicketEvent.Kind.ASSIGNED
    ).values("to_value")
    # One id list (a union) rather than ORed conditions, which PostgreSQL can only check
    # against every user in turn: the query reads this ticket's rows, whatever the staff size.
    ids = [
        repliers.order_by(),
        User.objects.filter(username__in=assigned).order_by().values("pk"),
    ]
    if ticket.assignee_id:
        ids.append(User.objects.filter(pk=ticket.assignee_id).order_by().values("pk"))
    return (
        User.objects.filter(pk__in=ids[0].union(*ids[1:], all=True), is_active=True)
        .exclude(pk=ticket.requester_id)
        .order_by("username")
    )


def ticket_rating(ticket: Ticket) -> TicketRating | None:
    ratings = _ticket_rating_statement().instances(ticket_id=ticket.pk)
    return ratings[0] if ratings else None


@cache
def _ticket_rating_statement() -> Statement:
    # Compiled once per process (servicedesk.statements): every ticket page reads it.
    ticket_id = slot(0)
    rating = TicketRating.objects.filter(ticket_id=ticket_id).order_by("pk")[:1]
    return Statement(rating, ticket_id=ticket_id)
