"""Departments of the company, their people and the roles they hold."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Department(models.Model):
    """A department: at once a provider of services and a consumer of others'."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    code = models.CharField(
        _("code"),
        max_length=10,
        unique=True,
        help_text=_("Short upper-case code used in ticket references, e.g. IT."),
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    is_active = models.BooleanField(_("active"), default=True)
    default_sla_policy = models.ForeignKey(
        "slas.SlaPolicy",
        verbose_name=_("default SLA policy"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(code__regex=r"^[A-Z][A-Z0-9]{0,9}$"),
                name="department_code_upper_alnum",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


def _is_cjk(text: str) -> bool:
    return any("\u3400" <= char <= "\u9fff" for char in text)


class User(AbstractUser):
    """An employee. `department` is the home department, the one they request services for."""

    department = models.ForeignKey(
        Department,
        verbose_name=_("home department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="employees",
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    def get_full_name(self) -> str:
        return full_name(self.first_name, self.last_name)

    def __str__(self) -> str:
        return person_name(self.first_name, self.last_name, self.username)


def full_name(first_name: str | None, last_name: str | None) -> str:
    """Chinese names read family name first with no space (张伟); others "First Last"."""
    first, last = (first_name or "").strip(), (last_name or "").strip()
    if _is_cjk(first + last):
        return f"{last}{first}"
    return f"{first} {last}".strip()


def person_name(first_name: str | None, last_name: str | None, username: str) -> str:
    """`str(user)` from plain values (rows read without building users): the full name, else
    the username."""
    return full_name(first_name, last_name) or username


class Membership(models.Model):
    """A role a user holds in a department: member (consumer), agent or head (provider side)."""

    class Role(models.TextChoices):
        MEMBER = "member", _("member")
        AGENT = "agent", _("agent")
        HEAD = "head", _("head")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "department"], name="membership_unique_user_dept"
            ),
        ]
        indexes = [models.Index(fields=["department", "role"])]

    def __str__(self) -> str:
        return f"{self.user} · {self.department.code} · {self.role}"
