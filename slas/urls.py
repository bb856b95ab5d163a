"""Department-head pages: SLA dashboard and the internal service map."""

urlpatterns: list = []
