"""Survey pages: the list, the answer form, the results and the managers' open/close buttons."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.survey_list, name="surveys"),
    path("<int:survey_id>/", views.survey_answer, name="survey-answer"),
    path("<int:survey_id>/results/", views.survey_results, name="survey-results"),
    path("<int:survey_id>/open/", views.survey_step, {"step": "open"}, name="survey-open"),
    path("<int:survey_id>/close/", views.survey_step, {"step": "close"}, name="survey-close"),
]
