"""Serializers for `surveys/`: parse input and render output; the rules (who, when, what an item
or an answer must hold) live in `feedback.surveys`, which names bad fields like `items[0].key`."""

from rest_framework import serializers

from departments.models import Department

from .models import Survey, SurveyItem
from .questionnaires import display_text, kano_dysfunctional_text, kano_functional_text
from .scoring import KANO_ANSWERS

ITEMS_HELP = (
    'SERVQUAL: [{"key", "dimension" (tangibles|reliability|responsiveness|assurance|empathy), '
    '"text"}], omitted = the 22-item default questionnaire. KANO (required): [{"key", "feature", '
    '"functional", "dysfunctional"}], the two questions defaulting to the standard wording.'
)


class SurveyItemSerializer(serializers.ModelSerializer):
    """An item as shown: texts of default items in the reader's language."""

    text = serializers.SerializerMethodField()
    functional = serializers.SerializerMethodField()
    dysfunctional = serializers.SerializerMethodField()

    class Meta:
        model = SurveyItem
        fields = ["key", "dimension", "text", "feature", "functional", "dysfunctional"]
        read_only_fields = fields

    def get_text(self, item: SurveyItem) -> str:
        return display_text(item)

    def get_functional(self, item: SurveyItem) -> str:
        return kano_functional_text(item) if item.feature else ""

    def get_dysfunctional(self, item: SurveyItem) -> str:
        return kano_dysfunctional_text(item) if item.feature else ""


class SurveySerializer(serializers.ModelSerializer):
    audience_departments = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    items = SurveyItemSerializer(many=True, read_only=True)
    provider_department_name = serializers.CharField(
        source="provider_department.name", read_only=True
    )
    answered = serializers.SerializerMethodField(
        help_text="Whether the caller has answered this campaign."
    )

    class Meta:
        model = Survey
        fields = [
            "id",
            "kind",
            "title",
            "provider_department",
            "provider_department_name",
            "audience_departments",
            "opens_at",
            "closes_at",
            "remind_at",
            "repeat_months",
            "state",
            "opened_at",
            "reminded_at",
            "closed_at",
            "items",
            "answered",
            "created_at",
        ]
        read_only_fields = fields

    def get_answered(self, survey: Survey) -> bool:
        return survey.pk in self.context.get("answered_ids", ())


class SurveyWriteSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Survey.Kind.choices)
    title = serializers.CharField(max_length=200)
    provider_department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.filter(is_active=True)
    )
    audience_departments = serializers.PrimaryKeyRelatedField(
        many=True,
        queryset=Department.objects.all(),
        help_text="Consumer departments whose employees are invited.",
    )
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    remind_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When non-respondents are reminded; default halfway through.",
    )
    repeat_months = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=60,
        help_text="Schedule the same campaign again this many months later.",
    )
    items = serializers.ListField(
        child=serializers.DictField(), required=False, allow_null=True, help_text=ITEMS_HELP
    )


class AnswerSerializer(serializers.Serializer):
    item = serializers.CharField()
    expectation = serializers.IntegerField(required=False, help_text="SERVQUAL, 1–7.")
    perception = serializers.IntegerField(required=False, help_text="SERVQUAL, 1–7.")
    functional = serializers.ChoiceField(choices=KANO_ANSWERS, required=False, help_text="KANO.")
    dysfunctional = serializers.ChoiceField(choices=KANO_ANSWERS, required=False, help_text="KANO.")


class ResponseInputSerializer(serializers.Serializer):
    # Parsed as plain objects: feedback.surveys checks them against the campaign's items and
    # names the bad one (`answers[2].perception`). AnswerSerializer documents the shape.
    answers = serializers.ListField(child=serializers.DictField(), allow_empty=True)


class ResponseReceiptSerializer(serializers.Serializer):
    survey = serializers.IntegerField()
    answers = serializers.IntegerField(help_text="How many items were answered.")


class GroupSerializer(serializers.Serializer):
    department = serializers.IntegerField(allow_null=True)
    department_name = serializers.CharField()
    respondents = serializers.IntegerField()
    suppressed = serializers.BooleanField(help_text="Fewer than 5 respondents: no scores.")
    dimensions = serializers.ListField(child=serializers.DictField(), required=False)
    items = serializers.ListField(child=serializers.DictField(), required=False)


class SurveyResultsSerializer(serializers.Serializer):
    """Documents the results body (built by feedback.survey_selectors.survey_results)."""

    survey = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Survey.Kind.choices)
    respondents = serializers.IntegerField()
    suppressed = serializers.BooleanField(
        help_text="Fewer than 5 respondents: only the count is shown."
    )
    min_group_size = serializers.IntegerField()
    previous = serializers.DictField(
        required=False,
        allow_null=True,
        help_text="SERVQUAL: the previous closed campaign of the provider, if any.",
    )
    dimensions = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text="SERVQUAL: {dimension, label, expectation, perception, gap, previous_gap, "
        "change}.",
    )
    items = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text="SERVQUAL: {item, dimension, text, expectation, perception, gap}; KANO: "
        "{item, feature, counts: {A, O, M, I, R, Q}, category, better, worse}.",
    )
    by_consumer_department = GroupSerializer(many=True)
