"""Pages of the suggestion box and the improvement-action board."""

from django.urls import path

from . import suggestion_views

urlpatterns = [
    path("suggestions/", suggestion_views.suggestions, name="suggestions"),
    path(
        "suggestions/<int:suggestion_id>/answer/",
        suggestion_views.suggestion_answer,
        name="suggestion-answer",
    ),
    path("actions/", suggestion_views.actions_board, name="actions"),
    path("actions/new/", suggestion_views.action_new, name="action-new"),
    path("actions/<int:action_id>/edit/", suggestion_views.action_edit, name="action-edit"),
    path(
        "actions/<int:action_id>/advance/",
        suggestion_views.action_advance,
        name="action-advance",
    ),
]
