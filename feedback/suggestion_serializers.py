"""Serializers of the suggestion box and improvement actions: input shapes, output shapes."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from departments.models import Department, User

from .models import ImprovementAction, Suggestion


class SuggestionSerializer(serializers.ModelSerializer):
    """A suggestion as read. `author` is null for an anonymous suggestion."""

    author = serializers.SerializerMethodField()

    class Meta:
        model = Suggestion
        fields = [
            "id",
            "department",
            "title",
            "body",
            "anonymous",
            "author",
            "status",
            "answer",
            "answered_at",
            "created_on",
        ]
        read_only_fields = fields

    def get_author(self, suggestion: Suggestion) -> int | None:
        return None if suggestion.anonymous else suggestion.author_id


class SuggestionCreateSerializer(serializers.Serializer):
    department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.filter(is_active=True)
    )
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=5000)
    anonymous = serializers.BooleanField(default=False)


class SuggestionAnswerSerializer(serializers.Serializer):
    """PATCH body: the department moves the status and/or writes the public answer."""

    status = serializers.ChoiceField(choices=Suggestion.Status.choices, required=False)
    answer = serializers.CharField(max_length=5000, required=False, allow_blank=True)

    READ_ONLY = ("department", "title", "body", "anonymous", "author", "created_on", "answered_at")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        fixed = {
            name: [_("This field cannot be changed.")]
            for name in self.READ_ONLY
            if name in self.initial_data
        }
        if fixed:
            raise serializers.ValidationError(fixed)
        return attrs


class ImprovementActionSerializer(serializers.ModelSerializer):
    """An improvement action, read and written. Related objects are ids."""

    department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.filter(is_active=True)
    )
    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(is_active=True))
    source_id = serializers.IntegerField(min_value=1)
    baseline = serializers.DecimalField(
        max_digits=12, decimal_places=2, required=False, allow_null=True
    )
    result = serializers.DecimalField(
        max_digits=12, decimal_places=2, required=False, allow_null=True
    )

    class Meta:
        model = ImprovementAction
        fields = [
            "id",
            "department",
            "title",
            "description",
            "owner",
            "source_type",
            "source_id",
            "stage",
            "due_date",
            "metric",
            "baseline",
            "result",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"stage": {"required": False}}
