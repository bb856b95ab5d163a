"""Read queries about who holds which role where."""

from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from django.db import connections
from django.db.models import CharField, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Concat

from servicedesk.statements import Statement, slot

from .models import Department, Membership, User


def provider_department_ids(user: User) -> frozenset[int]:
    """Departments where the user is agent or head (the provider side), cached per user object."""
    cached = getattr(user, "_provider_department_ids", None)
    if cached is None:
        _load_roles(user)
        cached = user._provider_department_ids  # type: ignore[attr-defined]
    return cached


def headed_department_ids(user: User) -> frozenset[int]:
    cached = getattr(user, "_headed_department_ids", None)
    if cached is None:
        _load_roles(user)
        cached = user._headed_department_ids  # type: ignore[attr-defined]
    return cached


def _provider_memberships(user: Any) -> QuerySet[Membership]:
    """The memberships that give `user` (a user, or a reference to one) the provider side: agent
    or head of an active department."""
    return Membership.objects.filter(
        user=user, role__in=PROVIDER_ROLES, department__is_active=True
    ).order_by()


def _load_roles(user: User) -> None:
    rows: list[tuple[int, str]] = []
    if user.is_authenticated:
        # A page's header also shows small per-user figures (servicedesk.auth): they come in
        # the same round trip, as (value, tag) rows whose tag is no role.
        companion_rows = getattr(user, "roles_companion_rows", None)
        rows = _roles_statement(companion_rows).rows(user_id=user.pk)
    _set_roles(user, rows)


def _set_roles(user: User, rows: Iterable[tuple[int, str]]) -> None:
    provider: set[int] = set()
    headed: set[int] = set()
    companions: dict[str, int] = {}
    for value, tag in rows:
        if tag not in PROVIDER_ROLES:
            companions[tag] = value
            continue
        provider.add(value)
        if tag == Membership.Role.HEAD:
            headed.add(value)
    user._provider_department_ids = frozenset(provider)  # type: ignore[attr-defined]
    user._headed_department_ids = frozenset(headed)  # type: ignore[attr-defined]
    user.roles_companions = companions  # type: ignore[attr-defined]


def roles_column(user: Any) -> Subquery | None:
    """The provider roles of `user` (a reference to a user's id) as one text column, for a
    query that reads the user anyway (the API's token): "agent:3,head:7", or NULL for none.
    `take_roles_column` hands them to the user as `_load_roles` would, so the request makes no
    roles query (issue #6). PostgreSQL only (string_agg); elsewhere None: roles load apart."""
    if connections[Membership.objects.db].vendor != "postgresql":
        return None
    from django.contrib.postgres.aggregates import StringAgg

    pairs = Concat("role", Value(":"), Cast("department_id", CharField()))
    return Subquery(
        _provider_memberships(user)
        .values("user_id")
        .annotate(roles=StringAgg(pairs, delimiter=","))
        .values("roles"),
        output_field=CharField(),
    )


def take_roles_column(user: User, text: str | None) -> None:
    """Set `user`'s roles from `roles_column`'s text."""
    pairs = (pair.partition(":") for pair in text.split(",")) if text else ()
    _set_roles(user, ((int(department_id), role) for role, _colon, department_id in pairs))


@cache
def _roles_statement(companion_rows: Callable[[Any], QuerySet] | None) -> Statement:
    """The roles query (with a page's companion rows), compiled once per process: building
    the union took a millisecond of every page (issue #6)."""
    user_id = slot(0)
    rows = _provider_memberships(user_id).values_list("department_id", "role")
    if companion_rows is not None:
        rows = rows.union(companion_rows(user_id), all=True)
    return Statement(rows, user_id=user_id)


def is_agent_of(user: User, department_id: int) -> bool:
    return department_id in provider_department_ids(user)


def is_head_of(user: User, department_id: int) -> bool:
    return department_id in headed_department_ids(user)


def active_departments() -> QuerySet[Department]:
    return Department.objects.filter(is_active=True).select_related("parent")


PROVIDER_ROLES = (Membership.Role.AGENT, Membership.Role.HEAD)


def department_staff(department_id: int, roles: tuple[str, ...] = PROVIDER_ROLES) -> QuerySet[User]:
    """Active users holding one of `roles` in a department (default: agents and heads)."""
    return User.objects.filter(
        memberships__department_id=department_id, memberships__role__in=roles, is_active=True
    ).order_by("username")
