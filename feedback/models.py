"""The internal customer's voice: ticket ratings, survey campaigns (SERVQUAL, KANO), the
suggestion box, kudos and the PDCA improvement actions they lead to.

Survey answers are stored without the respondent: an invitation records *that* someone
answered (so they answer once), the response records *what* was answered and the respondent's
home department (for breakdowns), and nothing joins the two.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Moment(models.TextChoices):
    """The touchpoints of a ticket (moments of truth) a requester can name best or worst."""

    FIRST_RESPONSE = "first_response", _("first response")
    COMMUNICATION = "communication", _("communication")
    EXPERTISE = "expertise", _("expertise")
    SPEED = "speed", _("speed")
    RESOLUTION = "resolution", _("resolution")


class TicketRating(models.Model):
    """The requester's rating of a resolved ticket (one per ticket, editable until closed)."""

    ticket = models.OneToOneField(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="rating", verbose_name=_("ticket")
    )
    # Copied from the ticket when rated so dashboards aggregate without joining tickets.
    provider_department = models.ForeignKey(
        "departments.Department", on_delete=models.PROTECT, related_name="+"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    score = models.PositiveSmallIntegerField(_("score"))
    best_moment = models.CharField(
        _("best moment"), max_length=20, choices=Moment.choices, blank=True
    )
    worst_moment = models.CharField(
        _("worst moment"), max_length=20, choices=Moment.choices, blank=True
    )
    end_score = models.PositiveSmallIntegerField(_("end score"))
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("rated"))
    updated_at = models.DateTimeField(_("updated"))

    class Meta:
        verbose_name = _("ticket rating")
        verbose_name_plural = _("ticket ratings")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(score__gte=1, score__lte=5), name="rating_score_1_5"
            ),
            models.CheckConstraint(
                condition=models.Q(end_score__gte=1, end_score__lte=5), name="rating_end_score_1_5"
            ),
        ]
        indexes = [
            # The dashboard's breakdowns read only these columns: an index-only scan, which
            # does not visit the table's rows (scattered over the period's pages).
            models.Index(
                fields=["provider_department", "created_at"],
                include=["score", "end_score", "best_moment", "worst_moment"],
                name="rating_dept_scores_idx",
            ),
            models.Index(fields=["agent", "created_at"], name="rating_agent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.score}"


class Survey(models.Model):
    """A survey campaign of one provider department, answered by employees of its consumers."""

    class Kind(models.TextChoices):
        SERVQUAL = "servqual", _("SERVQUAL")
        KANO = "kano", _("KANO")

    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("scheduled")
        OPEN = "open", _("open")
        CLOSED = "closed", _("closed")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    title = models.CharField(_("title"), max_length=200)
    provider_department = models.ForeignKey(
        "departments.Department",
        verbose_name=_("provider department"),
        on_delete=models.PROTECT,
        related_name="surveys",
    )
    audience_departments = models.ManyToManyField(
        "departments.Department", verbose_name=_("audience departments"), related_name="+"
    )
    opens_at = models.DateTimeField(_("opens"))
    closes_at = models.DateTimeField(_("closes"))
    # When non-respondents are reminded; null = halfway between opening and closing.
    remind_at = models.DateTimeField(_("remind"), null=True, blank=True)
    # A repeating campaign schedules its successor (same items) this many months later on close.
    repeat_months = models.PositiveSmallIntegerField(
        _("repeat every (months)"), null=True, blank=True
    )
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.SCHEDULED
    )
    opened_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("survey campaign")
        verbose_name_plural = _("survey campaigns")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes_at__gt=models.F("opens_at")),
                name="survey_closes_after_opening",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "opens_at"], name="survey_state_opens_idx"),
            models.Index(fields=["state", "closes_at"], name="survey_state_closes_idx"),
            models.Index(
                fields=["provider_department", "kind", "-closes_at"], name="survey_dept_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class SurveyItem(models.Model):
    """A question of a campaign: a SERVQUAL statement or a KANO feature with its two questions.

    Empty texts on a SERVQUAL item of the default questionnaire mean "the standard wording",
    shown in the reader's language (feedback/questionnaires.py)."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="items")
    key = models.CharField(_("key"), max_length=40)
    position = models.PositiveSmallIntegerField(default=0)
    dimension = models.CharField(_("dimension"), max_length=20, blank=True)
    text = models.CharField(_("text"), max_length=500, blank=True)
    feature = models.CharField(_("feature"), max_length=200, blank=True)
    functional = models.CharField(_("functional question"), max_length=500, blank=True)
    dysfunctional = models.CharField(_("dysfunctional question"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("survey item")
        verbose_name_plural = _("survey items")
        ordering = ["survey", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "key"], name="survey_item_key_unique"),
        ]

    def __str__(self) -> str:
        return self.key


class SurveyInvitation(models.Model):
    """One audience member of a campaign: invited, reminded, answered (but not *what*)."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="invitations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    invited_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["survey", "user"], name="survey_invitation_unique"),
        ]
        indexes = [models.Index(fields=["user", "survey"], name="invitation_user_idx")]

    def __str__(self) -> str:
        return f"{self.survey_id} → {self.user_id}"


class SurveyResponse(models.Model):
    """One anonymous set of answers. No user, no timestamp: it cannot be traced to a person."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="responses")
    consumer_department = models.ForeignKey(
        "departments.Department", null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["survey", "consumer_department"], name="response_idx")]

    def __str__(self) -> str:
        return f"response {self.pk} to survey {self.survey_id}"


class SurveyAnswer(models.Model):
    """One item of a response: expectation/perception (SERVQUAL) or the two KANO answers."""

    class KanoAnswer(models.TextChoices):
        LIKE = "like", _("I like it that way")
        MUST_BE = "must_be", _("It must be that way")
        NEUTRAL = "neutral", _("I am neutral")
        LIVE_WITH = "live_with", _("I can live with it that way")
        DISLIKE = "dislike", _("I dislike it that way")

    response = models.ForeignKey(SurveyResponse, on_delete=models.CASCADE, related_name="answers")
    item = models.ForeignKey(SurveyItem, on_delete=models.CASCADE, related_name="answers")
    expectation = models.PositiveSmallIntegerField(null=True, blank=True)
    perception = models.PositiveSmallIntegerField(null=True, blank=True)
    functional = models.CharField(max_length=10, choices=KanoAnswer.choices, blank=True)
    dysfunctional = models.CharField(max_length=10, choices=KanoAnswer.choices, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["response", "item"], name="survey_answer_unique"),
            models.CheckConstraint(
                condition=(
                    models.Q(expectation__isnull=True)
                    | models.Q(expectation__gte=1, expectation__lte=7)
                )
                & (
                    models.Q(perception__isnull=True)
                    | models.Q(perception__gte=1, perception__lte=7)
                ),
                name="survey_answer_scale_1_7",
            ),
        ]
        indexes = [models.Index(fields=["item"], name="answer_item_idx")]

    def __str__(self) -> str:
        return f"{self.response_id}/{self.item_id}"


class Suggestion(models.Model):
    """A suggestion-box entry (意见箱) to a department. Anonymous entries store no author at all."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        UNDER_REVIEW = "under_review", _("under review")
        ACCEPTED = "accepted", _("accepted")
        DECLINED = "declined", _("declined")
        DONE = "done", _("done")

    department = models.ForeignKey(
        "departments.Department",
        verbose_name=_("department"),
        on_delete=models.PROTECT,
        related_name="suggestions",
    )
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("suggestion"))
    anonymous = models.BooleanField(_("anonymous"), default=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.OPEN
    )
    answer = models.TextField(_("answer"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    # Day only: a minute-exact time could be matched against access logs to unmask an author.
    created_on = models.DateField(_("submitted"))

    class Meta:
        verbose_name = _("suggestion")
        verbose_name_plural = _("suggestions")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(anonymous=False) | models.Q(author__isnull=True),
                name="suggestion_anonymous_has_no_author",
            ),
        ]
        indexes = [
            models.Index(fields=["department", "status", "-id"], name="suggestion_dept_idx"),
            models.Index(fields=["author", "-id"], name="suggestion_author_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class Kudos(models.Model):
    """An employee's thanks to an agent for a ticket (激励)."""

    ticket = models.ForeignKey(
        "tickets.Ticket", verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="kudos"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agent"),
        on_delete=models.CASCADE,
        related_name="kudos_received",
    )
    giver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kudos_given"
    )
    # The ticket's provider department, copied so recognition per department is one indexed scan.
    department = models.ForeignKey(
        "departments.Department", on_delete=models.PROTECT, related_name="+"
    )
    message = models.CharField(_("message"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("given"))

    class Meta:
        verbose_name = _("kudos")
        verbose_name_plural = _("kudos")
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "giver", "agent"], name="kudos_once_per_ticket_agent"
            ),
        ]
        indexes = [
            models.Index(fields=["department", "created_at"], name="kudos_dept_idx"),
            models.Index(fields=["agent", "created_at"], name="kudos_agent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.giver_id} → {self.agent_id}"


class ImprovementAction(models.Model):
    """A PDCA improvement action of a department, linked to what prompted it."""

    class Source(models.TextChoices):
        SURVEY = "survey", _("survey gap")
        BREACH = "breach", _("breach cluster")
        SUGGESTION = "suggestion", _("suggestion")

    class Stage(models.TextChoices):
        PLAN = "plan", _("plan")
        DO = "do", _("do")
        CHECK = "check", _("check")
        ACT = "act", _("act")

    department = models.ForeignKey(
        "departments.Department",
        verbose_name=_("department"),
        on_delete=models.PROTECT,
        related_name="improvement_actions",
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    source_type = models.CharField(_("source"), max_length=12, choices=Source.choices)
    # survey → Survey id, suggestion → Suggestion id, breach → the Service whose breaches cluster.
    source_id = models.PositiveBigIntegerField(_("source id"))
    stage = models.CharField(_("stage"), max_length=6, choices=Stage.choices, default=Stage.PLAN)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    metric = models.CharField(_("metric to watch"), max_length=200, blank=True)
    baseline = models.DecimalField(
        _("value before"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    result = models.DecimalField(
        _("value after"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("improvement action")
        verbose_name_plural = _("improvement actions")
        indexes = [
            models.Index(fields=["department", "stage", "due_date"], name="action_dept_idx"),
            models.Index(fields=["source_type", "source_id"], name="action_source_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class OutboundEmail(models.Model):
    """A feedback email (rating request, survey invitation or reminder) as an outbox row.

    Written in the transaction that decides to send it, so a broker outage loses nothing; a
    worker claims it with a conditional update, and a failed send is pushed back for a retry."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    # Makes each email idempotent: "rate:<ticket>:<resolved event>", "invite:<survey>", ...
    key = models.CharField(max_length=64)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["recipient", "key"], name="outbound_email_once"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                name="outbound_email_pending_idx",
                condition=models.Q(sent_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} → {self.recipient_id}"
