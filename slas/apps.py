from django.apps import AppConfig


class SlasConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "slas"

    def ready(self) -> None:
        from . import config_cache

        config_cache.connect()
