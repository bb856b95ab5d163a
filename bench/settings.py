"""Settings for benchmark servers: the project's own, plus a URL configuration that adds the
framework-floor view. Never used in production (`servicedesk.settings` stays the only one)."""

from servicedesk.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
