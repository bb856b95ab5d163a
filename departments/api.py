"""Org chart API: departments, their members and users. Admins write; signed-in users read."""

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from servicedesk.permissions import IsStaffOrReadOnly

from . import services
from .models import Department, Membership, User
from .serializers import DepartmentSerializer, MembershipSerializer, UserSerializer


class DepartmentViewSet(viewsets.ModelViewSet):
    serializer_class = DepartmentSerializer
    permission_classes = [IsStaffOrReadOnly]
    queryset = Department.objects.order_by("code")
    filterset_fields = ["parent", "is_active", "code"]

    def perform_create(self, serializer: DepartmentSerializer) -> None:
        serializer.instance = services.save_department(**serializer.validated_data)

    def perform_update(self, serializer: DepartmentSerializer) -> None:
        serializer.instance = services.save_department(
            department=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Department) -> None:
        # Departments carry history (tickets); retire them instead of deleting.
        services.save_department(department=instance, is_active=False)


@extend_schema(parameters=[OpenApiParameter("department_id", int, OpenApiParameter.PATH)])
class MembershipViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Members of a department with their role; `{user}` in the path is the user's id."""

    serializer_class = MembershipSerializer
    permission_classes = [IsStaffOrReadOnly]
    lookup_field = "user"
    lookup_value_regex = r"\d+"

    def get_department(self) -> Department:
        return get_object_or_404(Department, pk=self.kwargs["department_id"])

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return self.get_department().memberships.select_related("user").order_by("user_id")

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.set_membership(
            user=serializer.validated_data["user"],
            department=self.get_department(),
            role=serializer.validated_data.get("role", Membership.Role.MEMBER),
        )
        return Response(self.get_serializer(membership).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer: MembershipSerializer) -> None:
        serializer.instance = services.set_membership(
            user=serializer.instance.user,
            department=serializer.instance.department,
            role=serializer.validated_data.get("role", serializer.instance.role),
        )

    def perform_destroy(self, instance: Membership) -> None:
        services.remove_membership(membership=instance)


class UserViewSet(viewsets.ModelViewSet):
    serializer_class = UserSerializer
    permission_classes = [IsStaffOrReadOnly]
    queryset = User.objects.order_by("id")
    filterset_fields = ["department", "is_active", "username"]

    def perform_create(self, serializer: UserSerializer) -> None:
        with transaction.atomic():
            serializer.instance = services.save_user(**serializer.validated_data)

    def perform_update(self, serializer: UserSerializer) -> None:
        serializer.instance = services.save_user(
            user=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: User) -> None:
        # People leave; their tickets stay. Deactivate instead of deleting.
        services.save_user(user=instance, is_active=False)
