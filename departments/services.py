"""Writes to the org chart: departments, users and memberships (admins and HR sync)."""

from typing import Any

from django.db import transaction

from .models import Department, Membership, User


@transaction.atomic
def save_department(*, department: Department | None = None, **fields: Any) -> Department:
    department = department or Department()
    for name, value in fields.items():
        setattr(department, name, value)
    department.full_clean()
    department.save()
    return department


@transaction.atomic
def save_user(*, user: User | None = None, password: str | None = None, **fields: Any) -> User:
    """Create or update an employee; a home department also makes them a member there."""
    user = user or User()
    for name, value in fields.items():
        setattr(user, name, value)
    if password:
        user.set_password(password)
    elif user.pk is None:
        user.set_unusable_password()
    user.save()
    if user.department_id:
        Membership.objects.get_or_create(
            user=user, department_id=user.department_id, defaults={"role": Membership.Role.MEMBER}
        )
    return user


@transaction.atomic
def set_membership(*, user: User, department: Department, role: str) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        user=user, department=department, defaults={"role": role}
    )
    return membership


@transaction.atomic
def remove_membership(*, membership: Membership) -> None:
    membership.delete()
