"""API for ticket ratings (`tickets/{id}/rating/`) and kudos (`kudos/`): thin views that parse,
call `feedback.ratings` or `feedback.rating_selectors`, and render."""

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from servicedesk.errors import InvalidInput
from servicedesk.schema import ErrorSerializer
from tickets.models import Ticket
from tickets.selectors import visible_tickets

from . import rating_selectors, ratings
from .models import Kudos
from .rating_serializers import (
    KudosCreateSerializer,
    KudosSerializer,
    RatingInputSerializer,
    RatingSerializer,
)

CONFLICT = OpenApiResponse(
    ErrorSerializer, description="Conflict with the ticket's state (e.g. rating a closed ticket)."
)


class RatingView(APIView):
    """The requester's peak-end rating of a ticket: readable by whoever sees the ticket,
    written (created, then edited until the ticket is closed) by the requester only."""

    def _ticket(self, request: Request, pk: int) -> Ticket:
        return get_object_or_404(visible_tickets(request.user), pk=pk)

    @extend_schema(responses={200: RatingSerializer}, operation_id="tickets_rating_retrieve")
    def get(self, request: Request, pk: int) -> Response:
        rating = rating_selectors.ticket_rating(self._ticket(request, pk))
        if rating is None:
            raise Http404
        return Response(RatingSerializer(rating).data)

    @extend_schema(
        request=RatingInputSerializer,
        responses={200: RatingSerializer, 201: RatingSerializer, 409: CONFLICT},
        operation_id="tickets_rating_update",
    )
    def put(self, request: Request, pk: int) -> Response:
        ticket = self._ticket(request, pk)
        data = RatingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rating = ratings.rate_ticket(user=request.user, ticket=ticket, **data.validated_data)
        created = rating.created_at == rating.updated_at
        return Response(
            RatingSerializer(rating).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class KudosCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-created_at", "-id")


class KudosListView(generics.ListCreateAPIView):
    """Kudos you gave or received; heads see their departments', admins all. POST thanks an
    agent who worked on a ticket you filed (once per ticket and agent)."""

    serializer_class = KudosSerializer
    pagination_class = KudosCursorPagination
    filterset_fields = ["agent", "giver", "ticket", "department"]

    def get_queryset(self) -> QuerySet[Kudos]:
        if getattr(self, "swagger_fake_view", False):
            return Kudos.objects.none()
        return rating_selectors.visible_kudos(self.request.user)

    @extend_schema(
        request=KudosCreateSerializer,
        responses={201: KudosSerializer, 409: CONFLICT},
    )
    def post(self, request: Request) -> Response:
        data = KudosCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = visible_tickets(request.user).filter(pk=data.validated_data["ticket"]).first()
        if ticket is None:
            # Same answer for a missing ticket and one the caller may not see.
            raise InvalidInput({"ticket": [_("no such ticket")]})
        kudos = ratings.give_kudos(
            giver=request.user,
            ticket=ticket,
            agent=data.validated_data["agent"],
            message=data.validated_data["message"],
        )
        kudos = rating_selectors.visible_kudos(request.user).get(pk=kudos.pk)
        return Response(KudosSerializer(kudos).data, status=status.HTTP_201_CREATED)
