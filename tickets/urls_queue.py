"""Agent workspace pages: the department queue."""

urlpatterns: list = []
