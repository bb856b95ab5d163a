"""The project's URLs plus `/api/v1/bench/floor/`, mounted only by `bench.settings`."""

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from servicedesk.urls import urlpatterns as project_urlpatterns


class FloorView(APIView):
    """An empty authenticated DRF view: the framework floor F every figure is compared with
    (middleware, authentication, permission check, content negotiation, JSON rendering)."""

    def get(self, request: Request) -> Response:
        return Response({})


urlpatterns = [
    path("api/v1/bench/floor/", FloorView.as_view(), name="bench-floor"),
    *project_urlpatterns,
]
