"""API of the suggestion box (`suggestions/`) and improvement actions (`improvement-actions/`).

Thin: parse with a serializer, call the service, read back through the selector. Suggestions
and actions a caller may not see answer 404, whatever the method.
"""

import django_filters
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from servicedesk.schema import ErrorSerializer

from . import suggestion_selectors as selectors
from .actions import save_improvement_action
from .models import ImprovementAction, Suggestion
from .suggestion_serializers import (
    ImprovementActionSerializer,
    SuggestionAnswerSerializer,
    SuggestionCreateSerializer,
    SuggestionSerializer,
)
from .suggestion_views import forget_author
from .suggestions import answer_suggestion, submit_suggestion

CONFLICT = {
    409: OpenApiResponse(
        ErrorSerializer, description="The status or stage cannot move there (invalid_transition)."
    )
}


class SuggestionFilter(django_filters.FilterSet):
    mine = django_filters.BooleanFilter(method="filter_mine", label="Only my named suggestions")

    class Meta:
        model = Suggestion
        fields = ["department", "status"]

    def filter_mine(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        if value:
            return queryset.filter(author_id=self.request.user.pk, anonymous=False)
        return queryset


@extend_schema_view(
    partial_update=extend_schema(
        request=SuggestionAnswerSerializer, responses={200: SuggestionSerializer, **CONFLICT}
    ),
    create=extend_schema(request=SuggestionCreateSerializer, responses={201: SuggestionSerializer}),
)
class SuggestionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The suggestion box. Anyone signed in sends one (named or anonymous); authors read their
    named ones; agents and heads of the department read all to it and answer them."""

    serializer_class = SuggestionSerializer
    filterset_class = SuggestionFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Suggestion]:
        if getattr(self, "swagger_fake_view", False):
            return Suggestion.objects.none()
        return selectors.suggestion_list(self.request.user)

    def create(self, request: Request) -> Response:
        data = SuggestionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        suggestion = submit_suggestion(author=request.user, **data.validated_data)
        if suggestion.anonymous:
            forget_author(request)
        return Response(SuggestionSerializer(suggestion).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        suggestion = get_object_or_404(selectors.visible_suggestions(request.user), pk=pk)
        data = SuggestionAnswerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        suggestion = answer_suggestion(
            actor=request.user, suggestion=suggestion, **data.validated_data
        )
        return Response(SuggestionSerializer(suggestion).data)


class ImprovementActionFilter(django_filters.FilterSet):
    class Meta:
        model = ImprovementAction
        fields = ["department", "stage", "source_type", "owner"]


@extend_schema_view(
    partial_update=extend_schema(responses={200: ImprovementActionSerializer, **CONFLICT}),
    update=extend_schema(responses={200: ImprovementActionSerializer, **CONFLICT}),
    create=extend_schema(responses={201: ImprovementActionSerializer, **CONFLICT}),
)
class ImprovementActionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """PDCA improvement actions. Agents and heads of the department (and admins) read them;
    heads and admins write them. Actions are a record of the department's improvement work:
    there is no delete (admins can remove a mistaken one in the admin)."""

    serializer_class = ImprovementActionSerializer
    filterset_class = ImprovementActionFilter
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[ImprovementAction]:
        if getattr(self, "swagger_fake_view", False):
            return ImprovementAction.objects.none()
        return selectors.action_list(self.request.user)

    def perform_create(self, serializer: ImprovementActionSerializer) -> None:
        serializer.instance = save_improvement_action(
            actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer: ImprovementActionSerializer) -> None:
        serializer.instance = save_improvement_action(
            actor=self.request.user, action=serializer.instance, **serializer.validated_data
        )
