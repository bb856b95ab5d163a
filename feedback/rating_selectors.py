"""Read queries for ticket ratings and kudos: dashboard aggregates (one SQL aggregate each,
whatever the number of rows) and who may see which kudos."""

from datetime import datetime
from typing import Any

from django.db.models import Avg, Count, Q, QuerySet

from departments.models import User
from departments.selectors import headed_department_ids
from tickets.models import Comment, Ticket, TicketEvent

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


def rating_summary(*, department_id: int, start: datetime, end: datetime) -> dict[str, Any]:
    """`{"count", "average_score", "average_end_score", "distribution": {1..5: n}}` of the
    ratings of a provider department in [start, end), in one query."""
    row = _ratings(department_id, start, end).aggregate(
        count=Count("pk"),
        average_score=Avg("score"),
        average_end_score=Avg("end_score"),
        **{f"score_{n}": Count("pk", filter=Q(score=n)) for n in SCORES},
    )
    return {
        "count": row["count"],
        "average_score": _round(row["average_score"]),
        "average_end_score": _round(row["average_end_score"]),
        "distribution": {n: row[f"score_{n}"] for n in SCORES},
    }


def peak_end(*, department_id: int, start: datetime, end: datetime) -> dict[str, Any]:
    """The peak-end breakdown in one query: how often each moment was named best and worst,
    and for each end score (1–5) how many ratings gave it and their mean overall score."""
    aggregates: dict[str, Any] = {}
    for moment in Moment.values:
        aggregates[f"best_{moment}"] = Count("pk", filter=Q(best_moment=moment))
        aggregates[f"worst_{moment}"] = Count("pk", filter=Q(worst_moment=moment))
    for n in SCORES:
        aggregates[f"end_{n}_count"] = Count("pk", filter=Q(end_score=n))
        aggregates[f"end_{n}_mean"] = Avg("score", filter=Q(end_score=n))
    row = _ratings(department_id, start, end).aggregate(**aggregates)
    return {
        "best": {moment: row[f"best_{moment}"] for moment in Moment.values},
        "worst": {moment: row[f"worst_{moment}"] for moment in Moment.values},
        "by_end_score": [
            {
                "end_score": n,
                "count": row[f"end_{n}_count"],
                "mean_score": _round(row[f"end_{n}_mean"]),
            }
            for n in SCORES
        ],
    }


def _kudos(department_id: int, start: datetime, end: datetime) -> QuerySet[Kudos]:
    return Kudos.objects.filter(
        department_id=department_id, created_at__gte=start, created_at__lt=end
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
    return [
        (
            User(
                pk=row["agent_id"],
                username=row["agent__username"],
                first_name=row["agent__first_name"],
                last_name=row["agent__last_name"],
            ),
            row["kudos"],
        )
        for row in rows
    ]


def kudos_count(*, department_id: int, start: datetime, end: datetime) -> int:
    return _kudos(department_id, start, end).count()


def visible_kudos(user: User) -> QuerySet[Kudos]:
    """Kudos a user may read: those they gave or received, their departments' (heads), all
    (admins)."""
    if not user.is_authenticated:
        return Kudos.objects.none()
    kudos = Kudos.objects.select_related("ticket", "agent", "giver", "department")
    if user.is_staff:
        return kudos
    condition = Q(giver_id=user.pk) | Q(agent_id=user.pk)
    headed = headed_department_ids(user)
    if headed:
        condition |= Q(department_id__in=headed)
    return kudos.filter(condition)


def kudos_candidates(ticket: Ticket) -> QuerySet[User]:
    """The people who worked on a ticket and can be thanked: the assignee, anyone it was ever
    assigned to, and authors of public replies (never the requester), in one query."""
    repliers = Comment.objects.filter(ticket_id=ticket.pk, internal=False).values("author_id")
    assigned = TicketEvent.objects.filter(
        ticket_id=ticket.pk, kind=TicketEvent.Kind.ASSIGNED
    ).values("to_value")
    condition = Q(pk__in=repliers) | Q(username__in=assigned)
    if ticket.assignee_id:
        condition |= Q(pk=ticket.assignee_id)
    return (
        User.objects.filter(condition, is_active=True)
        .exclude(pk=ticket.requester_id)
        .order_by("username")
    )


def ticket_rating(ticket: Ticket) -> TicketRating | None:
    return TicketRating.objects.filter(ticket_id=ticket.pk).first()
