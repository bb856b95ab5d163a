"""Admin for the feedback models.

Survey campaigns are configured here (items inline, audience departments); opening and closing
run the survey services. Responses are never listed one by one: the campaign shows counts
only, so no admin can read what a person answered. What users submitted (ratings, kudos,
suggestions) and the email outbox are read-only; an anonymous suggestion has no author to show.
"""

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import (
    ImprovementAction,
    Kudos,
    OutboundEmail,
    Suggestion,
    Survey,
    SurveyItem,
    TicketRating,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """A view of rows users or workers wrote: nothing added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- survey campaigns ----------------------------------------------------------------------------


class SurveyItemInline(admin.TabularInline):
    model = SurveyItem
    extra = 0
    fields = ["position", "key", "dimension", "text", "feature", "functional", "dysfunctional"]

    def _editable(self, obj: Survey | None) -> bool:
        # Once a campaign opened, changing a question would change what earlier answers mean.
        return obj is None or obj.state == Survey.State.SCHEDULED

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_delete_permission(request, obj)


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "kind",
        "provider_department",
        "state",
        "opens_at",
        "closes_at",
        "invited_count",
        "respondent_count",
    ]
    list_filter = ["kind", "state", "provider_department"]
    search_fields = ["title"]
    list_select_related = ["provider_department"]
    filter_horizontal = ["audience_departments"]
    date_hierarchy = "opens_at"
    inlines = [SurveyItemInline]
    actions = ["open_now", "close_now"]
    fieldsets = [
        (
            None,
            {"fields": ["kind", "title", "provider_department", "audience_departments"]},
        ),
        (_("Schedule"), {"fields": ["opens_at", "remind_at", "closes_at", "repeat_months"]}),
        (
            _("Progress"),
            {
                "fields": [
                    "state",
                    "opened_at",
                    "reminded_at",
                    "closed_at",
                    "invited_count",
                    "respondent_count",
                    "created_by",
                ]
            },
        ),
    ]
    _progress = [
        "state",
        "opened_at",
        "reminded_at",
        "closed_at",
        "invited_count",
        "respondent_count",
        "created_by",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Survey]:
        # Counts as one aggregate each: invitations and responses never load row by row.
        return (
            super()
            .get_queryset(request)
            .annotate(
                invited=Count("invitations", distinct=True),
                respondents=Count("responses", distinct=True),
            )
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Survey | None = None) -> list[str]:
        if obj is not None and obj.state != Survey.State.SCHEDULED:
            return ["kind", "provider_department", "audience_departments", "opens_at"] + [
                *self._progress
            ]
        return list(self._progress)

    @admin.display(description=_("invited"), ordering="invited")
    def invited_count(self, obj: Survey) -> int:
        return getattr(obj, "invited", 0)

    @admin.display(description=_("respondents"), ordering="respondents")
    def respondent_count(self, obj: Survey) -> int:
        return getattr(obj, "respondents", 0)

    def save_model(self, request: HttpRequest, obj: Survey, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        survey = form.instance
        # Like create_survey: a SERVQUAL campaign saved without items gets the standard 22.
        if survey.kind == Survey.Kind.SERVQUAL and not survey.items.exists():
            from .surveys import clean_items

            SurveyItem.objects.bulk_create(
                SurveyItem(survey=survey, position=position, **item)
                for position, item in enumerate(clean_items(Survey.Kind.SERVQUAL, None))
            )

    @admin.action(description=_("Open the selected campaigns now"))
    def open_now(self, request: HttpRequest, queryset: QuerySet[Survey]) -> None:
        from .surveys import open_survey

        opened = 0
        for survey_id in queryset.filter(state=Survey.State.SCHEDULED).values_list("pk", flat=True):
            open_survey(survey_id=survey_id)
            opened += 1
        self.message_user(
            request,
            ngettext("%(n)d campaign opened.", "%(n)d campaigns opened.", opened) % {"n": opened},
            messages.SUCCESS,
        )

    @admin.action(description=_("Close the selected campaigns now"))
    def close_now(self, request: HttpRequest, queryset: QuerySet[Survey]) -> None:
        from .surveys import close_survey

        closed = 0
        for survey_id in queryset.filter(
            Q(state=Survey.State.OPEN) | Q(state=Survey.State.SCHEDULED)
        ).values_list("pk", flat=True):
            closed += bool(close_survey(survey_id=survey_id))
        self.message_user(
            request,
            ngettext("%(n)d campaign closed.", "%(n)d campaigns closed.", closed) % {"n": closed},
            messages.SUCCESS,
        )


# --- what users submitted --------------------------------------------------------------------


@admin.register(Suggestion)
class SuggestionAdmin(ReadOnlyAdmin):
    list_display = ["title", "department", "status", "shown_author", "created_on"]
    list_filter = ["status", "anonymous", "department"]
    search_fields = ["title", "body"]
    list_select_related = ["department", "author"]
    # `author` itself is never a field here: for anonymous entries there is none to show, and
    # the named author is shown through `shown_author`, which says "anonymous" otherwise.
    fields = [
        "department",
        "title",
        "body",
        "shown_author",
        "status",
        "answer",
        "answered_by",
        "answered_at",
        "created_on",
    ]
    readonly_fields = fields

    @admin.display(description=_("author"))
    def shown_author(self, obj: Suggestion) -> str:
        if obj.anonymous or obj.author is None:
            return str(_("anonymous"))
        return str(obj.author)


@admin.register(TicketRating)
class TicketRatingAdmin(ReadOnlyAdmin):
    list_display = [
        "ticket",
        "provider_department",
        "agent",
        "score",
        "end_score",
        "best_moment",
        "worst_moment",
        "created_at",
    ]
    list_filter = ["score", "provider_department"]
    list_select_related = ["ticket", "provider_department", "agent"]
    date_hierarchy = "created_at"
    search_fields = ["ticket__reference"]


@admin.register(Kudos)
class KudosAdmin(ReadOnlyAdmin):
    list_display = ["ticket", "agent", "giver", "department", "created_at"]
    list_filter = ["department"]
    list_select_related = ["ticket", "agent", "giver", "department"]
    date_hierarchy = "created_at"
    search_fields = ["ticket__reference", "agent__username"]


@admin.register(OutboundEmail)
class OutboundEmailAdmin(ReadOnlyAdmin):
    list_display = ["key", "recipient", "subject", "created_at", "sent_at", "attempts"]
    list_filter = [("sent_at", admin.EmptyFieldListFilter)]
    list_select_related = ["recipient"]
    search_fields = ["key", "recipient__username", "subject"]
    date_hierarchy = "created_at"


# --- improvement actions ---------------------------------------------------------------------


@admin.register(ImprovementAction)
class ImprovementActionAdmin(admin.ModelAdmin):
    list_display = ["title", "department", "owner", "stage", "source_type", "due_date"]
    list_filter = ["stage", "source_type", "department"]
    search_fields = ["title", "metric"]
    list_select_related = ["department", "owner"]
    raw_id_fields = ["owner"]
    readonly_fields = ["created_by", "created_at", "updated_at"]

    def save_model(
        self, request: HttpRequest, obj: ImprovementAction, form: Any, change: bool
    ) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
