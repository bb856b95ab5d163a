"""Business calendars and SLA policies (the data; the engine arrives with the SLA issue)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


def default_working_hours() -> dict[str, list[list[str]]]:
    weekday = [["09:00", "12:00"], ["13:00", "18:00"]]
    return {
        "mon": weekday,
        "tue": weekday,
        "wed": weekday,
        "thu": weekday,
        "fri": weekday,
        "sat": [],
        "sun": [],
    }


class BusinessCalendar(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    timezone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    working_hours = models.JSONField(_("working hours"), default=default_working_hours)
    years = models.JSONField(_("years covered"), default=list, blank=True)

    class Meta:
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")

    def __str__(self) -> str:
        return self.name


class CalendarDay(models.Model):
    class Kind(models.TextChoices):
        CLOSED = "closed", _("closed")
        WORKING = "working", _("working")

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="days")
    date = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="calendar_day_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.kind}"


class SlaPolicy(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.PROTECT, related_name="policies"
    )
    targets = models.JSONField(_("targets (business minutes)"), default=dict)
    warning_percent = models.PositiveSmallIntegerField(_("warning threshold %"), default=75)
    ladder = models.JSONField(_("escalation ladder"), default=list, blank=True)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        return self.name
