"""Read queries about who holds which role where."""

from django.db.models import QuerySet

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


def _load_roles(user: User) -> None:
    provider: set[int] = set()
    headed: set[int] = set()
    companions: dict[str, int] = {}
    if user.is_authenticated:
        rows = (
            Membership.objects.filter(
                user=user,
                role__in=(Membership.Role.AGENT, Membership.Role.HEAD),
                department__is_active=True,
            )
            .order_by()
            .values_list("department_id", "role")
        )
        # A page's header also shows small per-user figures (servicedesk.auth): they come in
        # the same round trip, as (value, tag) rows whose tag is no role.
        companion_rows = getattr(user, "roles_companion_rows", None)
        if companion_rows is not None:
            rows = rows.union(companion_rows(user), all=True)
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
