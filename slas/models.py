"""Business calendars and SLA policies (the data; the engine arrives with the SLA issue)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

DEFAULT_CALENDAR_NAME = "中国标准工作日历"


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


class Agreement(models.Model):
    """An OLA (内部服务协议): which policy a provider promises a consumer for a service.

    Null consumer or service means "all". The most specific agreement wins.
    """

    class RelationType(models.TextChoices):
        FUNCTIONAL = "functional", _("functional customer (职能客户)")
        HIERARCHICAL = "hierarchical", _("hierarchical customer (职级客户)")
        PROCESS = "process", _("process customer (流程客户)")
        PROCEDURE = "procedure", _("procedure customer (工序客户)")

    provider_department = models.ForeignKey(
        "departments.Department",
        verbose_name=_("provider department"),
        on_delete=models.CASCADE,
        related_name="provided_agreements",
    )
    consumer_department = models.ForeignKey(
        "departments.Department",
        verbose_name=_("consumer department"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="consumed_agreements",
        help_text=_("Empty: every consumer department."),
    )
    service = models.ForeignKey(
        "tickets.Service",
        verbose_name=_("service"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="agreements",
        help_text=_("Empty: every service of the provider."),
    )
    policy = models.ForeignKey(SlaPolicy, on_delete=models.PROTECT, related_name="agreements")
    relation_type = models.CharField(
        _("relation type"),
        max_length=12,
        choices=RelationType.choices,
        default=RelationType.FUNCTIONAL,
    )

    class Meta:
        verbose_name = _("agreement")
        verbose_name_plural = _("agreements")
        constraints = [
            models.UniqueConstraint(
                fields=["provider_department", "consumer_department", "service"],
                name="agreement_unique_scope",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider_department_id} → {self.consumer_department_id or '*'}"


class Escalation(models.Model):
    """One step of a ticket's SLA clock that has come due: a warning, a breach or a ladder level.

    The unique (ticket, clock, step) row is claimed before anything is recorded or sent, so each
    step fires exactly once whatever the retries, concurrent sweeps or crashed workers.
    """

    class Clock(models.TextChoices):
        RESPONSE = "response", _("response")
        RESOLUTION = "resolution", _("resolution")

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    clock = models.CharField(max_length=10, choices=Clock.choices)
    step = models.CharField(max_length=64)  # "warning", "breach" or "ladder:<percent>:<notify>"
    at_percent = models.PositiveSmallIntegerField()
    notify = models.CharField(max_length=32, blank=True)
    due_at = models.DateTimeField()
    fired_at = models.DateTimeField()
    # Outbox for the notification: sent once (claimed by a conditional update), retried if lost.
    notified_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")
        constraints = [
            models.UniqueConstraint(fields=["ticket", "clock", "step"], name="escalation_once"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="escalation_outbox_idx",
                condition=models.Q(notified_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.clock} {self.step}"


# --- SLA figures that do not grow with the ticket table (slas/figures.py) ------------------------


class FigureSide(models.TextChoices):
    PROVIDER = "provider"
    CONSUMER = "consumer"


class FigureSpan(models.TextChoices):
    DAY = "day"
    MONTH = "month"


class PeriodFigures(models.Model):
    """The SLA figures of the tickets created on one local day (settings.TIME_ZONE), or in one
    local month (span "month", `day` its first day: the sum of its days), for one department as
    provider or as consumer: derived data, recomputed from the tickets by `slas.figures` (never
    edited by hand).

    Histograms of business seconds per clock: `*_coarse` {coarse bucket: count} and `*_fine`
    {"c<coarse bucket>": {fine bucket: count}}, buckets as laid out in `slas.figures`.
    """

    department = models.ForeignKey(
        "departments.Department",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # the first column of the unique key / scope index
    )
    side = models.CharField(max_length=8, choices=FigureSide.choices)
    span = models.CharField(max_length=5, choices=FigureSpan.choices, default=FigureSpan.DAY)
    day = models.DateField()
    tickets = models.PositiveIntegerField(default=0)
    reopened = models.PositiveIntegerField(default=0)
    resolved_once = models.PositiveIntegerField(default=0)
    response_measured = models.PositiveIntegerField(default=0)
    response_met = models.PositiveIntegerField(default=0)
    response_breached = models.PositiveIntegerField(default=0)
    response_timed = models.PositiveIntegerField(default=0)
    response_coarse = models.JSONField(default=dict)
    response_fine = models.JSONField(default=dict)
    resolution_measured = models.PositiveIntegerField(default=0)
    resolution_met = models.PositiveIntegerField(default=0)
    resolution_breached = models.PositiveIntegerField(default=0)
    resolution_timed = models.PositiveIntegerField(default=0)
    resolution_coarse = models.JSONField(default=dict)
    resolution_fine = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["department", "side", "span", "day"], name="period_figures_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.department_id} {self.side} {self.span} {self.day}"


class FigureLedgerEntry(models.Model):
    """An append-only ledger behind the open-ticket counts and the freshness of `PeriodFigures`.

    Every write that changes a ticket's figures appends, in its own transaction, one entry per
    side with the ticket's `ticket_created_at` (its day's figures are stale until the beat task
    recomputes them) and `count` -1 / +1 for the open-ticket key (status, priority, assignee) it
    left / entered (0: figures only). The number of open tickets of a key is the SUM of its
    entries; the task folds entries into one balance entry per key (`ticket_created_at` null).
    Writers only insert: filings to one department never wait on a shared counter row.
    """

    department = models.ForeignKey(
        "departments.Department",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # the first column of the unique key / scope index
    )
    side = models.CharField(max_length=8, choices=FigureSide.choices)
    ticket_created_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, blank=True)
    priority = models.CharField(max_length=10, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,  # as the ticket's assignee: the count moves to "unassigned"
        related_name="+",
        db_index=False,  # a small table, written on every ticket change; users go rarely
    )
    count = models.IntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(
                fields=["department", "side", "ticket_created_at"], name="figure_ledger_scope_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.department_id} {self.side} {self.status} {self.count:+d}"


class FiguresBuild(models.Model):
    """The figures were built from every ticket for this time zone and bucket layout; until a
    build matching the running settings exists, metrics are computed from the tickets."""

    time_zone = models.CharField(max_length=64)
    layout = models.BigIntegerField()
    finished_at = models.DateTimeField()
    # Folds since the build, counted in each fold's transaction: with the build's id, it tells
    # readers whether a fold (the only remover of ledger entries) ran since they last looked.
    # A database default too: a process still running the previous release inserts builds.
    folds = models.PositiveBigIntegerField(default=0, db_default=0)

    def __str__(self) -> str:
        return f"{self.time_zone} {self.layout} {self.finished_at}"
