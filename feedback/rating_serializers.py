"""Serializers for `tickets/{id}/rating/` and `kudos/`: parse input, render output; the rules
(who, when, ranges) live in `feedback.ratings`."""

from rest_framework import serializers

from departments.models import User

from .models import Kudos, Moment, TicketRating

ENUM_HELP = "One of: " + ", ".join(Moment.values) + " (or empty)."


class RatingSerializer(serializers.ModelSerializer):
    ticket = serializers.PrimaryKeyRelatedField(read_only=True)
    best_moment = serializers.ChoiceField(choices=Moment.choices, allow_blank=True)
    worst_moment = serializers.ChoiceField(choices=Moment.choices, allow_blank=True)

    class Meta:
        model = TicketRating
        fields = [
            "ticket",
            "score",
            "best_moment",
            "worst_moment",
            "end_score",
            "comment",
            "provider_department",
            "agent",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class RatingInputSerializer(serializers.Serializer):
    score = serializers.IntegerField(min_value=1, max_value=5, help_text="Overall score, 1–5.")
    end_score = serializers.IntegerField(
        min_value=1, max_value=5, help_text="How it ended (peak-end), 1–5."
    )
    best_moment = serializers.ChoiceField(
        choices=Moment.choices, required=False, allow_blank=True, default="", help_text=ENUM_HELP
    )
    worst_moment = serializers.ChoiceField(
        choices=Moment.choices, required=False, allow_blank=True, default="", help_text=ENUM_HELP
    )
    comment = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=5000, trim_whitespace=True
    )
    reopen = serializers.BooleanField(
        required=False,
        default=False,
        help_text="With a score of 2 or less: send the ticket back to in progress.",
    )


class KudosSerializer(serializers.ModelSerializer):
    ticket_reference = serializers.CharField(source="ticket.reference", read_only=True)
    agent_name = serializers.CharField(source="agent.__str__", read_only=True)
    giver_name = serializers.CharField(source="giver.__str__", read_only=True)

    class Meta:
        model = Kudos
        fields = [
            "id",
            "ticket",
            "ticket_reference",
            "agent",
            "agent_name",
            "giver",
            "giver_name",
            "department",
            "message",
            "created_at",
        ]
        read_only_fields = fields


class KudosCreateSerializer(serializers.Serializer):
    ticket = serializers.IntegerField(min_value=1, help_text="A ticket you filed.")
    agent = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), help_text="An agent who worked on it."
    )
    message = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=500, trim_whitespace=True
    )
