"""Service catalog, tickets, their comments, attachments and timeline."""

from functools import reduce
from operator import or_

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _


class Priority(models.TextChoices):
    URGENT = "urgent", _("urgent")
    HIGH = "high", _("high")
    NORMAL = "normal", _("normal")
    LOW = "low", _("low")


class Status(models.TextChoices):
    NEW = "new", _("new")
    ASSIGNED = "assigned", _("assigned")
    IN_PROGRESS = "in_progress", _("in progress")
    WAITING = "waiting", _("waiting on requester")
    RESOLVED = "resolved", _("resolved")
    CLOSED = "closed", _("closed")
    CANCELLED = "cancelled", _("cancelled")


OPEN_STATUSES = (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING)
# The open tickets as a partial index's predicate. An OR of equalities, not IN: PostgreSQL proves
# the queue's OR-ed status filter (django-filter's multiple choice) implies it, and the API's IN.
OPEN_CONDITION = reduce(or_, (models.Q(status=status.value) for status in OPEN_STATUSES))


class Service(models.Model):
    """An entry in the catalog: something a provider department does for others."""

    department = models.ForeignKey(
        "departments.Department",
        verbose_name=_("provider department"),
        on_delete=models.PROTECT,
        related_name="services",
    )
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    category = models.CharField(_("category"), max_length=100, blank=True)
    form_schema = models.JSONField(_("form fields"), default=list, blank=True)
    default_priority = models.CharField(
        _("default priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    sla_policy = models.ForeignKey(
        "slas.SlaPolicy",
        verbose_name=_("SLA policy"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="services",
    )
    is_active = models.BooleanField(_("active"), default=True)
    allowed_consumers = models.ManyToManyField(
        "departments.Department",
        verbose_name=_("consumer departments allowed (empty = everyone)"),
        blank=True,
        related_name="requestable_services",
    )

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["department_id", "category", "name"]
        constraints = [
            models.UniqueConstraint(fields=["department", "name"], name="service_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class TicketSequence(models.Model):
    """Last reference number used per department and year (reserved with an atomic upsert)."""

    department = models.ForeignKey("departments.Department", on_delete=models.CASCADE)
    year = models.PositiveSmallIntegerField()
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["department", "year"], name="ticket_sequence_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.department_id}/{self.year}: {self.last_value}"


class Ticket(models.Model):
    class Source(models.TextChoices):
        WEB = "web", _("web")
        API = "api", _("API")
        EMAIL = "email", _("email")

    reference = models.CharField(_("reference"), max_length=32, unique=True)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    # No index of their own on these foreign keys and on created_at: each leads one of Meta's
    # indexes, which serve their lookups too; one index fewer to write with every ticket.
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="tickets", db_index=False
    )
    provider_department = models.ForeignKey(
        "departments.Department",
        on_delete=models.PROTECT,
        related_name="provided_tickets",
        db_index=False,
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="requested_tickets",
        db_index=False,
    )
    requester_department = models.ForeignKey(
        "departments.Department",
        null=True,
        on_delete=models.PROTECT,
        related_name="requested_tickets",
        db_index=False,
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
        db_index=False,
    )
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.NEW
    )
    form_data = models.JSONField(_("form answers"), default=dict, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.WEB)

    created_at = models.DateTimeField(_("created"))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    # SLA clock (computed by the SLA engine).
    sla_policy = models.ForeignKey(
        "slas.SlaPolicy", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    response_due_at = models.DateTimeField(_("respond by"), null=True, blank=True)
    resolution_due_at = models.DateTimeField(_("resolve by"), null=True, blank=True)
    response_breached = models.BooleanField(_("response breached"), default=False)
    resolution_breached = models.BooleanField(_("resolution breached"), default=False)
    next_sla_check_at = models.DateTimeField(null=True, blank=True)
    # The resolution clock stops while waiting on the requester and while resolved: the business
    # time spent so is added here, and `clock_paused_at` marks a pause under way.
    resolution_paused_seconds = models.FloatField(default=0)
    clock_paused_at = models.DateTimeField(null=True, blank=True)
    # Business time actually taken, stored at the moment of truth so metrics aggregate in SQL.
    response_business_seconds = models.FloatField(null=True, blank=True)
    resolution_business_seconds = models.FloatField(null=True, blank=True)
    auto_close_at = models.DateTimeField(null=True, blank=True)
    sla_warnings = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [
            # Cursor pagination orders by (-created_at, -id); every list filter starts from these.
            models.Index(fields=["-created_at", "-id"], name="ticket_created_idx"),
            models.Index(
                fields=["provider_department", "status", "-created_at", "-id"],
                name="ticket_provider_status_idx",
            ),
            models.Index(fields=["requester", "-created_at", "-id"], name="ticket_requester_idx"),
            models.Index(
                fields=["requester_department", "-created_at", "-id"], name="ticket_req_dept_idx"
            ),
            # `assignee=`, newest first, read in order until a page is full; with the open
            # statuses (an agent's "my open tickets"), the partial index below. PostgreSQL's
            # generic plan of a kept statement (servicedesk/statements.py) otherwise took the
            # due-time index and sorted a busy agent's 6,400 open tickets: 12-19 ms at 1M.
            models.Index(fields=["assignee", "-created_at", "-id"], name="ticket_assignee_idx"),
            models.Index(
                fields=["assignee", "-created_at", "-id"],
                name="ticket_assignee_open_idx",
                condition=OPEN_CONDITION,
            ),
            models.Index(fields=["service", "-created_at"], name="ticket_service_idx"),
            # The sweep's keyset order (check instant, id): ties after a bulk import stay cheap.
            models.Index(
                fields=["next_sla_check_at", "id"],
                name="ticket_sla_check_idx",
                condition=models.Q(next_sla_check_at__isnull=False),
            ),
            models.Index(
                fields=["auto_close_at"],
                name="ticket_auto_close_idx",
                condition=models.Q(auto_close_at__isnull=False),
            ),
            # The queue's default view: a provider's open tickets, soonest resolution due first
            # (bench/README.md: 240 ms of sorting at 1M tickets → an index-only top-N).
            models.Index(
                fields=["provider_department", "resolution_due_at", "id"],
                name="ticket_queue_due_idx",
                condition=OPEN_CONDITION,
            ),
            # The queue's "assigned to me" by due time: an agent's open tickets in order, read
            # until a page is full (the department's index above read all 63k open tickets of IT
            # and sorted an agent's 6,000: 17 ms at 1M tickets, issue #6).
            models.Index(
                fields=["assignee", "resolution_due_at", "id"],
                name="ticket_assignee_due_idx",
                condition=OPEN_CONDITION,
            ),
            # `breached=true`, newest first: a backward scan of the breached tickets only, with
            # the columns of the visibility rule, instead of every ticket filed since the last
            # breach (13k rows at 1M tickets after a day of on-time filings).
            # The dashboard's latest breaches of a provider: an index-only scan of 20 entries
            # instead of walking every department's tickets of the period backwards.
            models.Index(
                fields=["provider_department", "-created_at", "-id"],
                name="ticket_provider_breach_idx",
                include=["requester", "requester_department"],
                condition=models.Q(response_breached=True) | models.Q(resolution_breached=True),
            ),
            models.Index(
                fields=["-created_at", "-id"],
                name="ticket_breached_idx",
                include=["provider_department", "requester", "requester_department"],
                condition=models.Q(response_breached=True) | models.Q(resolution_breached=True),
            ),
            # `?ordering=` by a due time or the last change (a client syncing changes), first
            # and deep pages alike; read backwards for descending orders.
            models.Index(fields=["response_due_at", "id"], name="ticket_response_due_idx"),
            models.Index(fields=["resolution_due_at", "id"], name="ticket_resolution_due_idx"),
            models.Index(fields=["updated_at", "id"], name="ticket_updated_idx"),
            # A provider's tickets filed on given days: the SLA figures of a day that changed since
            # the last fold (today, on a busy desk) are counted from them. Without it PostgreSQL
            # AND-ed the days with all of the department's tickets: 40 ms at 1M (slas.figures).
            models.Index(
                fields=["provider_department", "-created_at", "-id"],
                name="ticket_provider_created_idx",
            ),
            # `?search=` a reference, whatever its case. On PostgreSQL the title's search has a
            # GIN index of character pairs too, made by migration 0009 (tickets/search.py).
            models.Index(Upper("reference"), name="ticket_reference_upper_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class Comment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(_("body"))
    body_html = models.TextField(editable=False)
    internal = models.BooleanField(_("internal note"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        indexes = [models.Index(fields=["ticket", "created_at"])]
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"comment {self.pk} on {self.ticket_id}"


def attachment_path(instance: "Attachment", filename: str) -> str:
    # The stored name never comes from the client: only the sanitised extension is kept.
    return f"attachments/{instance.ticket_id}/{instance.token}{instance.extension}"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(upload_to=attachment_path, max_length=255)
    token = models.CharField(max_length=32, editable=False)
    extension = models.CharField(max_length=10, editable=False)
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    internal = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        indexes = [models.Index(fields=["ticket", "created_at"])]

    def __str__(self) -> str:
        return self.filename


class TicketEvent(models.Model):
    """Append-only timeline and audit log of a ticket."""

    class Kind(models.TextChoices):
        CREATED = "created", _("created")
        ASSIGNED = "assigned", _("assigned")
        STATUS_CHANGED = "status_changed", _("status changed")
        COMMENTED = "commented", _("commented")
        ATTACHED = "attached", _("attachment added")
        PRIORITY_CHANGED = "priority_changed", _("priority changed")
        UPDATED = "updated", _("details updated")
        FIRST_RESPONSE = "first_response", _("first response")
        RESOLVED = "resolved", _("resolved")
        REOPENED = "reopened", _("reopened")
        SLA_WARNING = "sla_warning", _("SLA warning")
        SLA_BREACHED = "sla_breached", _("SLA breached")
        ESCALATED = "escalated", _("escalated")
        RATED = "rated", _("rated")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_value = models.CharField(max_length=200, blank=True)
    to_value = models.CharField(max_length=200, blank=True)
    internal = models.BooleanField(default=False)
    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    # Email outbox: set in the event's own transaction when the event is to be mailed, cleared
    # once every recipient has been mailed. A pending event whose time has come is enqueued
    # again by the periodic sweep (a broker outage or a killed worker loses nothing).
    mail_due_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")
        indexes = [
            models.Index(fields=["ticket", "at", "id"]),
            models.Index(
                fields=["mail_due_at"],
                name="ticket_event_mail_due_idx",
                condition=models.Q(mail_due_at__isnull=False),
            ),
            # The SLA metrics' reopen rate asks, per ticket of the period, "was it ever reopened /
            # resolved?" (EXISTS): these small partial indexes answer without reading events.
            models.Index(
                fields=["ticket"],
                name="ticket_event_reopened_idx",
                condition=models.Q(kind="reopened"),
            ),
            models.Index(
                fields=["ticket"],
                name="ticket_event_resolved_idx",
                condition=models.Q(kind__in=["resolved", "reopened"]),
            ),
        ]
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind}"


class EmailDelivery(models.Model):
    """One email about one event to one person: the unique row makes a retried task send once."""

    event = models.ForeignKey(TicketEvent, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "recipient"], name="email_delivery_unique"),
        ]

    def __str__(self) -> str:
        return f"event {self.event_id} → user {self.recipient_id}"


class Notification(models.Model):
    """An in-app notification (the header's unread count, the /notifications/ page)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=32)
    message = models.CharField(max_length=500)
    url = models.CharField(max_length=300, blank=True)
    # Makes creation idempotent: one notification per (user, source), e.g. "escalation:17".
    source_key = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(fields=["user", "source_key"], name="notification_once"),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notification_user_idx"),
            models.Index(
                fields=["user"],
                name="notification_unread_idx",
                condition=models.Q(read_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.message[:40]}"
