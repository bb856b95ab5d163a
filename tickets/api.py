"""Ticket and catalog API: thin views that parse, call a service or selector, and render."""

from typing import Any

from django.db.models import Q, QuerySet
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import filters, generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from departments.selectors import provider_department_ids
from servicedesk.pagination import (
    CreatedCursorPagination,
    TicketCursorPagination,
    TimelineCursorPagination,
)
from slas.clocks import loaded_contexts, promise_for

from . import search, selectors, services
from .filters import (
    TicketFilter,
    TicketFilterBackend,
    TicketOrderingFilter,
    filtered_ticket_rows,
)
from .models import Service, Ticket
from .search import search_term
from .serializers import (
    AttachmentSerializer,
    AttachmentUploadSerializer,
    CommentCreateSerializer,
    CommentSerializer,
    PromiseQuerySerializer,
    PromiseSerializer,
    ServiceSerializer,
    TicketCreateSerializer,
    TicketEventSerializer,
    TicketRows,
    TicketSerializer,
    TicketUpdateSerializer,
    TransitionSerializer,
    event_rows_data,
)


class ServiceViewSet(viewsets.ModelViewSet):
    """The service catalog. Everyone reads active services; admins and heads of the
    service's department write them."""

    serializer_class = ServiceSerializer
    filter_backends = [
        *viewsets.ModelViewSet.filter_backends,  # type: ignore[attr-defined]
        filters.SearchFilter,
    ]
    filterset_fields = ["department", "category", "is_active"]
    search_fields = ["name", "description", "category"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Service]:
        user = self.request.user
        services_qs = (
            Service.objects.select_related("department")
            .prefetch_related("allowed_consumers")
            .order_by("department__code", "category", "name", "id")
        )
        if getattr(self, "swagger_fake_view", False) or user.is_staff:
            return services_qs
        return services_qs.filter(
            Q(is_active=True) | Q(department_id__in=provider_department_ids(user))
        )

    def perform_create(self, serializer: ServiceSerializer) -> None:
        serializer.instance = services.save_service(
            actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer: ServiceSerializer) -> None:
        serializer.instance = services.save_service(
            actor=self.request.user, service=serializer.instance, **serializer.validated_data
        )

    @extend_schema(parameters=[PromiseQuerySerializer], responses={200: PromiseSerializer})
    @action(detail=True, methods=["get"])
    def promise(self, request: Request, pk: str) -> Response:
        """The due times a request filed now (or at `at`) would get: what filing then gives."""
        service = self.get_object()
        query = PromiseQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        consumer = query.validated_data.get("consumer_department")
        promise = promise_for(
            service=service,
            priority=query.validated_data.get("priority", service.default_priority),
            at=query.validated_data.get("at") or timezone.now(),
            consumer_department_id=consumer.pk if consumer else request.user.department_id,
        )
        return Response(PromiseSerializer(promise).data)


class TicketViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Tickets the caller may see (404 for any other), with their workflow and timeline."""

    serializer_class = TicketSerializer
    pagination_class = TicketCursorPagination
    filterset_class = TicketFilter
    filter_backends = [TicketFilterBackend, TicketOrderingFilter]
    ordering_fields = [
        "created_at",
        "updated_at",
        "priority",
        "status",
        "response_due_at",
        "resolution_due_at",
    ]
    ordering = ("-created_at", "-id")

    def get_queryset(self) -> QuerySet[Ticket]:
        if getattr(self, "swagger_fake_view", False):
            return Ticket.objects.none()
        return selectors.ticket_list(self.request.user)

    def list(self, request: Request) -> Response:
        # Plain rows rendered straight to TicketSerializer's JSON (TicketRows): issue #6.
        term = search_term(request.query_params.get("search"))
        tickets: Any
        if not term:  # pages read by statements compiled once per shape of filters
            tickets = filtered_ticket_rows(request)
        elif search.indexed():  # so are a search's, where its indexes are
            tickets = search.SearchPages(filtered_ticket_rows(request, search=False), term)
        else:  # SQLite: the filters' search on the queryset
            tickets = self.filter_queryset(selectors.visible_ticket_rows(request.user))
        page = self.paginate_queryset(tickets)
        return self.get_paginated_response(TicketRows().data(page or []))

    def retrieve(self, request: Request, pk: str) -> Response:
        # As GenericAPIView.get_object (filters apply, a malformed id is a 404), on a plain row.
        tickets = self.filter_queryset(selectors.visible_ticket_rows(request.user))
        row = generics.get_object_or_404(tickets, pk=pk)
        self.check_object_permissions(request, row)
        return Response(TicketRows().row(row))

    def _ticket(self) -> Ticket:
        return get_object_or_404(selectors.visible_tickets(self.request.user), pk=self.kwargs["pk"])

    def _render(self, ticket: Ticket, code: int = status.HTTP_200_OK) -> Response:
        # The ticket just written, read again as a plain row (TicketRows writes TicketSerializer's
        # JSON), with the SLA policy and calendar the write loaded (issue #6).
        row = selectors.written_ticket_row(ticket)
        rows = TicketRows()
        rows.sla_contexts.update(loaded_contexts(ticket))
        return Response(rows.row(row), status=code)

    @extend_schema(request=TicketCreateSerializer, responses={201: TicketSerializer})
    def create(self, request: Request) -> Response:
        data = TicketCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = services.file_ticket(
            requester=request.user, source=Ticket.Source.API, **data.validated_data
        )
        return self._render(ticket, status.HTTP_201_CREATED)

    @extend_schema(request=TicketUpdateSerializer, responses={200: TicketSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        ticket = self._ticket()
        data = TicketUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values: dict[str, Any] = dict(data.validated_data)
        unassign = "assignee" in values and values["assignee"] is None
        if unassign:
            values.pop("assignee")
        ticket = services.update_ticket(
            ticket=ticket, actor=request.user, unassign=unassign, **values
        )
        return self._render(ticket)

    @extend_schema(request=TransitionSerializer, responses={200: TicketSerializer})
    @action(detail=True, methods=["post"])
    def transitions(self, request: Request, pk: str) -> Response:
        ticket = self._ticket()
        data = TransitionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = services.transition_ticket(
            ticket=ticket, actor=request.user, **data.validated_data
        )
        return self._render(ticket)

    @extend_schema(methods=["GET"], responses={200: CommentSerializer(many=True)})
    @extend_schema(
        methods=["POST"], request=CommentCreateSerializer, responses={201: CommentSerializer}
    )
    @action(detail=True, methods=["get", "post"], pagination_class=CreatedCursorPagination)
    def comments(self, request: Request, pk: str) -> Response:
        ticket = self._ticket()
        if request.method == "POST":
            data = CommentCreateSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            comment = services.add_comment(
                ticket=ticket, author=request.user, **data.validated_data
            )
            comment = selectors.ticket_comments(request.user, ticket).get(pk=comment.pk)
            return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(selectors.ticket_comments(request.user, ticket))
        return self.get_paginated_response(CommentSerializer(page, many=True).data)

    @extend_schema(methods=["GET"], responses={200: AttachmentSerializer(many=True)})
    @extend_schema(
        methods=["POST"],
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        parser_classes=[MultiPartParser, FormParser],
        pagination_class=CreatedCursorPagination,
    )
    def attachments(self, request: Request, pk: str) -> Response:
        ticket = self._ticket()
        if request.method == "POST":
            data = AttachmentUploadSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            attachment = services.add_attachment(
                ticket=ticket,
                uploaded_by=request.user,
                upload=data.validated_data["file"],
                internal=data.validated_data["internal"],
            )
            return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(selectors.ticket_attachments(request.user, ticket))
        return self.get_paginated_response(AttachmentSerializer(page, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("attachment_id", int, OpenApiParameter.PATH)],
        # The file goes out with its own content type, whatever it is.
        responses={(200, "*/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The file.")},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"attachments/(?P<attachment_id>\d+)",
        parser_classes=[JSONParser],
    )
    def download_attachment(self, request: Request, pk: str, attachment_id: str) -> FileResponse:
        ticket = self._ticket()
        attachment = get_object_or_404(
            selectors.ticket_attachments(request.user, ticket), pk=attachment_id
        )
        return FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.filename,
            content_type=attachment.content_type,
        )

    @extend_schema(responses={200: TicketEventSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=TimelineCursorPagination)
    def events(self, request: Request, pk: str) -> Response:
        # Only what the timeline's visibility needs of the ticket, and plain event rows
        # rendered as TicketEventSerializer writes them (issue #6).
        tickets = selectors.visible_tickets(request.user).only("id", "provider_department_id")
        ticket = get_object_or_404(tickets, pk=pk)
        events = selectors.ticket_event_rows(request.user, ticket)
        return self.get_paginated_response(event_rows_data(self.paginate_queryset(events) or []))
