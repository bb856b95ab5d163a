"""`GET /api/v1/metrics/sla/`: SLA compliance, times, backlog and reopen rate (DESIGN §2, §3).

The definitions of every figure are in `slas.metrics`.
"""

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from servicedesk.errors import NotAllowed
from servicedesk.schema import ErrorSerializer

from . import metrics

# `from` is a Python keyword: the fields named so are added in get_fields().


class SlaMetricsQuerySerializer(serializers.Serializer):
    provider_department = serializers.IntegerField(
        required=False, min_value=1, help_text="Provider department id."
    )
    consumer_department = serializers.IntegerField(
        required=False, min_value=1, help_text="Consumer (requester's) department id."
    )
    service = serializers.IntegerField(required=False, min_value=1, help_text="Service id.")
    agent = serializers.IntegerField(
        required=False, min_value=1, help_text="Assignee (agent) user id."
    )
    to = serializers.DateTimeField(
        required=False,
        help_text="End of the period on created_at, excluded. ISO date or date-time; a date or "
        "a time without offset is read in the service desk's time zone. Default: now.",
    )
    group_by = serializers.ChoiceField(
        choices=metrics.GROUP_BY_CHOICES,
        required=False,
        help_text="Also break the figures down by this key into `groups`.",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = serializers.DateTimeField(
            required=False,
            help_text="Start of the period on created_at, included. ISO date or date-time. "
            "Default: 30 days before `to`.",
        )
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        user = self.context["request"].user
        if not user.is_staff and not (
            attrs.get("provider_department") or attrs.get("consumer_department")
        ):
            raise serializers.ValidationError(
                {"provider_department": _("Give provider_department or consumer_department.")}
            )
        attrs.setdefault("to", timezone.now())
        attrs.setdefault("from", attrs["to"] - metrics.DEFAULT_PERIOD)
        if attrs["from"] >= attrs["to"]:
            raise serializers.ValidationError({"to": _("The period must end after it starts.")})
        if attrs["to"] > metrics.latest_allowed_end(attrs["from"]):
            raise serializers.ValidationError(
                {
                    "from": _("The period may span at most %(years)d years.")
                    % {"years": metrics.MAX_PERIOD_YEARS}
                }
            )
        return attrs


class PeriodSerializer(serializers.Serializer):
    to = serializers.DateTimeField(source="period_to")

    def get_fields(self) -> dict[str, serializers.Field]:
        return {"from": serializers.DateTimeField(source="period_from"), **super().get_fields()}


class FiltersSerializer(serializers.Serializer):
    provider_department = serializers.IntegerField(
        source="scope.provider_department_id", allow_null=True
    )
    consumer_department = serializers.IntegerField(
        source="scope.consumer_department_id", allow_null=True
    )
    service = serializers.IntegerField(source="scope.service_id", allow_null=True)
    agent = serializers.IntegerField(source="scope.agent_id", allow_null=True)
    group_by = serializers.CharField(allow_null=True)


PERCENTILE_HELP = (
    "Business minutes. For one whole provider or consumer department (no service or agent "
    "filter; group_by absent, week or month) interpolated from the daily figures: within 1 % "
    "(within 1 second below 100 seconds). Otherwise exact (continuous percentile)."
)


class ClockFiguresSerializer(serializers.Serializer):
    measured = serializers.IntegerField(
        help_text="Tickets with a due time that got it done (first response / resolution) "
        "or are breached."
    )
    met = serializers.IntegerField(help_text="Measured tickets done at or before the due time.")
    breached = serializers.IntegerField(help_text="Measured tickets flagged breached.")
    compliance_percent = serializers.FloatField(allow_null=True, help_text="met / measured x 100")
    median_minutes = serializers.FloatField(allow_null=True, help_text=PERCENTILE_HELP)
    p90_minutes = serializers.FloatField(allow_null=True, help_text=PERCENTILE_HELP)


@extend_schema_field(
    {
        "oneOf": [{"type": "integer"}, {"type": "string"}],
        "nullable": True,
        "description": "An id (departments, service, agent; null = none), a priority, a month "
        '"2026-10" or an ISO week "2026-W41".',
    }
)
class GroupKeyField(serializers.Field):
    def to_representation(self, value: Any) -> Any:
        return value


class GroupFiguresSerializer(serializers.Serializer):
    key = GroupKeyField()
    label = serializers.CharField()
    tickets = serializers.IntegerField()
    response = ClockFiguresSerializer()
    resolution = ClockFiguresSerializer()


class BacklogByStatusSerializer(serializers.Serializer):
    new = serializers.IntegerField()
    assigned = serializers.IntegerField()
    in_progress = serializers.IntegerField()
    waiting = serializers.IntegerField()


class BacklogByPrioritySerializer(serializers.Serializer):
    urgent = serializers.IntegerField()
    high = serializers.IntegerField()
    normal = serializers.IntegerField()
    low = serializers.IntegerField()


class BacklogSerializer(serializers.Serializer):
    by_status = BacklogByStatusSerializer(source="backlog_by_status")
    by_priority = BacklogByPrioritySerializer(source="backlog_by_priority")


class SlaMetricsSerializer(serializers.Serializer):
    period = PeriodSerializer(source="*")
    filters = FiltersSerializer(source="*")
    tickets = serializers.IntegerField(help_text="Tickets created in the period.")
    response = ClockFiguresSerializer()
    resolution = ClockFiguresSerializer()
    backlog = BacklogSerializer(source="*", help_text="Open tickets now, whatever the period.")
    reopen_rate_percent = serializers.FloatField(
        allow_null=True,
        help_text="Tickets reopened at least once / tickets resolved at least once x 100.",
    )
    groups = GroupFiguresSerializer(many=True)


class SlaMetricsView(APIView):
    """SLA figures for a provider and/or consumer department (admins: any scope)."""

    @extend_schema(
        operation_id="metrics_sla",
        parameters=[SlaMetricsQuerySerializer],
        responses={
            200: SlaMetricsSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Invalid input (fields name it)."),
        },
    )
    def get(self, request: Request) -> Response:
        if not metrics.may_read_any_metrics(request.user):
            raise NotAllowed(str(_("Only agents, department heads and admins read SLA metrics.")))
        query = SlaMetricsQuerySerializer(data=request.query_params, context={"request": request})
        query.is_valid(raise_exception=True)
        params = query.validated_data
        scope = metrics.MetricsScope(
            provider_department_id=params.get("provider_department"),
            consumer_department_id=params.get("consumer_department"),
            service_id=params.get("service"),
            agent_id=params.get("agent"),
        )
        if not metrics.may_read_metrics(request.user, scope):
            raise NotAllowed(
                str(
                    _(
                        "You may read the metrics of your own departments only (as provider or, "
                        "for heads, as consumer)."
                    )
                )
            )
        report = metrics.sla_metrics(
            scope=scope,
            period_from=params["from"],
            period_to=params["to"],
            group_by=params.get("group_by"),
        )
        return Response(SlaMetricsSerializer(report).data)
