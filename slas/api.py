"""SLA API: business calendars and their days. Signed-in users read; admins write."""

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import viewsets
from rest_framework.request import Request

from servicedesk.permissions import IsStaffOrReadOnly
from servicedesk.schema import ErrorSerializer

from . import calendars, policies
from .models import Agreement, BusinessCalendar, CalendarDay, SlaPolicy
from .serializers import (
    AgreementSerializer,
    BusinessCalendarSerializer,
    CalendarDayQuerySerializer,
    CalendarDaySerializer,
    SlaPolicySerializer,
)


@extend_schema_view(
    destroy=extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(ErrorSerializer, description="SLA policies use this calendar."),
        }
    )
)
class BusinessCalendarViewSet(viewsets.ModelViewSet):
    """Business calendars: time zone, weekly working hours and the years whose holidays are in."""

    serializer_class = BusinessCalendarSerializer
    permission_classes = [IsStaffOrReadOnly]
    queryset = BusinessCalendar.objects.order_by("name", "id")

    def perform_create(self, serializer: BusinessCalendarSerializer) -> None:
        serializer.instance = calendars.save_calendar(**serializer.validated_data)

    def perform_update(self, serializer: BusinessCalendarSerializer) -> None:
        serializer.instance = calendars.save_calendar(
            calendar=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: BusinessCalendar) -> None:
        calendars.delete_calendar(calendar=instance)


@extend_schema(parameters=[OpenApiParameter("calendar_id", int, OpenApiParameter.PATH)])
@extend_schema_view(list=extend_schema(parameters=[CalendarDayQuerySerializer]))
class CalendarDayViewSet(viewsets.ModelViewSet):
    """A calendar's closed days (holidays) and extra working days (make-up weekends, 调休)."""

    serializer_class = CalendarDaySerializer
    permission_classes = [IsStaffOrReadOnly]
    filter_backends: list = []  # filtering is the `year`/`kind` query serializer below

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.get_calendar()  # 404 for an unknown calendar before the body is even read

    def get_calendar(self) -> BusinessCalendar:
        if not hasattr(self, "_calendar"):
            self._calendar = get_object_or_404(BusinessCalendar, pk=self.kwargs["calendar_id"])
        return self._calendar

    def get_queryset(self) -> QuerySet[CalendarDay]:
        if getattr(self, "swagger_fake_view", False):
            return CalendarDay.objects.none()
        days = self.get_calendar().days.order_by("date")
        if self.action == "list":
            query = CalendarDayQuerySerializer(data=self.request.query_params)
            query.is_valid(raise_exception=True)
            if "year" in query.validated_data:
                days = days.filter(date__year=query.validated_data["year"])
            if "kind" in query.validated_data:
                days = days.filter(kind=query.validated_data["kind"])
        return days

    def perform_create(self, serializer: CalendarDaySerializer) -> None:
        serializer.instance = calendars.add_day(
            calendar=self.get_calendar(), **serializer.validated_data
        )

    def perform_update(self, serializer: CalendarDaySerializer) -> None:
        serializer.instance = calendars.update_day(
            day=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: CalendarDay) -> None:
        calendars.remove_day(day=instance)


class SlaPolicyViewSet(viewsets.ModelViewSet):
    """SLA policies: per-priority targets in business minutes, warning threshold, ladder.
    Editing one recomputes the due times of the open tickets under it."""

    serializer_class = SlaPolicySerializer
    permission_classes = [IsStaffOrReadOnly]
    queryset = SlaPolicy.objects.order_by("name", "pk")
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def perform_create(self, serializer: SlaPolicySerializer) -> None:
        serializer.instance = policies.save_policy(**serializer.validated_data)

    def perform_update(self, serializer: SlaPolicySerializer) -> None:
        serializer.instance = policies.save_policy(
            policy=serializer.instance, **serializer.validated_data
        )


class AgreementViewSet(viewsets.ModelViewSet):
    """Internal service agreements (OLAs): provider × consumer (null = all) × service (null = all)
    → policy. The most specific agreement wins, then the service's policy, then the provider's
    default policy."""

    serializer_class = AgreementSerializer
    permission_classes = [IsStaffOrReadOnly]
    queryset = Agreement.objects.order_by("provider_department_id", "pk")
    filterset_fields = ["provider_department", "consumer_department", "service", "policy"]

    def perform_create(self, serializer: AgreementSerializer) -> None:
        serializer.instance = policies.save_agreement(**serializer.validated_data)

    def perform_update(self, serializer: AgreementSerializer) -> None:
        serializer.instance = policies.save_agreement(
            agreement=serializer.instance, **serializer.validated_data
        )
