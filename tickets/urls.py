from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("catalog/", views.catalog, name="catalog"),
    path("catalog/<int:service_id>/request/", views.request_service, name="request-service"),
    path("requests/", views.my_requests, name="my-requests"),
    path("tickets/<str:reference>/", views.ticket_detail, name="ticket-detail"),
    path("tickets/<str:reference>/clocks/", views.ticket_clocks, name="ticket-clocks"),
    path("tickets/<str:reference>/reply/", views.ticket_reply, name="ticket-reply"),
    path("tickets/<str:reference>/transition/", views.ticket_transition, name="ticket-transition"),
    path("tickets/<str:reference>/update/", views.ticket_update, name="ticket-update"),
    path("tickets/<str:reference>/edit/", views.ticket_edit, name="ticket-edit"),
]
