"""Permission classes shared by the apps' APIs."""

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request


class IsStaffOrReadOnly(BasePermission):
    """Signed-in users read; admins (is_staff) write — how an HR system syncs the org chart."""

    def has_permission(self, request: Request, view: object) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or bool(request.user.is_staff)
