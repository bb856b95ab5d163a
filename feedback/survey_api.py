"""Survey campaign API (`surveys/`): thin views that parse, call `feedback.surveys` or
`feedback.survey_selectors`, and render.

Who sees what: heads of the provider department and admins manage a campaign (create, edit
while scheduled, open/close by hand, read results); its audience sees it once open and answers
it once. Anybody else gets 404, as if the campaign did not exist.
"""

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from servicedesk.errors import NotAllowed
from servicedesk.schema import ErrorSerializer

from . import survey_selectors as selectors
from . import surveys
from .models import Survey, SurveyItem
from .survey_serializers import (
    ResponseInputSerializer,
    ResponseReceiptSerializer,
    SurveyResultsSerializer,
    SurveySerializer,
    SurveyWriteSerializer,
)

STATE_CONFLICT = OpenApiResponse(
    ErrorSerializer,
    description="Conflict with the campaign's state: survey_not_scheduled, survey_closed.",
)
ANSWER_CONFLICT = OpenApiResponse(
    ErrorSerializer,
    description="already_answered (one response per person) or survey_not_open (scheduled "
    "or closed).",
)


@extend_schema_view(
    create=extend_schema(request=SurveyWriteSerializer, responses={201: SurveySerializer}),
    partial_update=extend_schema(
        request=SurveyWriteSerializer, responses={200: SurveySerializer, 409: STATE_CONFLICT}
    ),
)
class SurveyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """SERVQUAL and KANO campaigns the caller manages or is asked to answer, newest first."""

    serializer_class = SurveySerializer
    filterset_fields = ["state", "kind", "provider_department"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Survey]:
        if getattr(self, "swagger_fake_view", False):
            return Survey.objects.none()
        return selectors.visible_surveys(self.request.user).prefetch_related(
            Prefetch("items", queryset=SurveyItem.objects.order_by("position", "id"))
        )

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["answered_ids"] = selectors.answered_survey_ids(self.request.user)
        return context

    def _render(self, survey: Survey, code: int = status.HTTP_200_OK) -> Response:
        survey = self.get_queryset().get(pk=survey.pk)
        return Response(self.get_serializer(survey).data, status=code)

    def create(self, request: Request) -> Response:
        data = SurveyWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        survey = surveys.create_survey(actor=request.user, **data.validated_data)
        return self._render(survey, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        survey = self.get_object()
        data = SurveyWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        survey = surveys.update_survey(actor=request.user, survey=survey, **data.validated_data)
        return self._render(survey)

    @extend_schema(request=None, responses={200: SurveySerializer, 409: STATE_CONFLICT})
    @action(detail=True, methods=["post"])
    def open(self, request: Request, pk: str) -> Response:
        """Open the campaign now and invite its audience (heads of the provider, admins)."""
        survey = self.get_object()
        surveys.open_survey_by_hand(actor=request.user, survey=survey)
        return self._render(survey)

    @extend_schema(request=None, responses={200: SurveySerializer, 409: STATE_CONFLICT})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        """Close the campaign now: no more answers (heads of the provider, admins)."""
        survey = self.get_object()
        surveys.close_survey_by_hand(actor=request.user, survey=survey)
        return self._render(survey)

    @extend_schema(
        request=ResponseInputSerializer,
        responses={201: ResponseReceiptSerializer, 409: ANSWER_CONFLICT},
        description='SERVQUAL: {"answers": [{"item", "expectation": 1-7, "perception": 1-7}]}; '
        'KANO: {"answers": [{"item", "functional", "dysfunctional"}]} with like, must_be, '
        "neutral, live_with or dislike. Every item once; one response per person.",
    )
    @action(detail=True, methods=["post"])
    def responses(self, request: Request, pk: str) -> Response:
        """Answer the campaign, once, anonymously."""
        survey = get_object_or_404(selectors.answerable_surveys(request.user), pk=pk)
        data = ResponseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        surveys.submit_response(
            user=request.user, survey=survey, answers=data.validated_data["answers"]
        )
        return Response(
            {"survey": survey.pk, "answers": len(data.validated_data["answers"])},
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(responses={200: SurveyResultsSerializer})
    @action(detail=True, methods=["get"])
    def results(self, request: Request, pk: str) -> Response:
        """Results by dimension, item and consumer department (groups under 5: count only)."""
        survey = get_object_or_404(
            selectors.visible_surveys(request.user).prefetch_related(None), pk=pk
        )
        if not selectors.can_read_results(request.user, survey):
            raise NotAllowed(
                _("Only heads of the provider department and admins may read the results.")
            )
        return Response(selectors.survey_results(survey))
