"""API authentication (REST_FRAMEWORK's DEFAULT_AUTHENTICATION_CLASSES): kept apart from
servicedesk.auth, whose views DRF's settings cannot import while `rest_framework.views` loads."""

from functools import cache
from typing import Any

from django.db.models import F, OuterRef
from rest_framework import authentication
from rest_framework.authtoken.models import Token

from departments.models import User
from departments.selectors import roles_column, take_roles_column
from servicedesk.statements import Statement, text_slot
from slas import config_cache


@cache
def _user_by_token() -> Statement:
    """The user of a token, with the token's creation time and (on PostgreSQL) the user's roles
    and the SLA configuration's version in the same round trip, compiled once per process."""
    users = User.objects.annotate(token_created=F("auth_token__created")).filter(
        auth_token__key=text_slot(0)
    )
    roles, version = roles_column(OuterRef("pk")), config_cache.version_column()
    if roles is not None:
        users = users.annotate(roles_text=roles)
    if version is not None:
        users = users.annotate(config_version=version)
    return Statement(users, key=text_slot(0))


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, reading the token's user through SQL compiled once per
    process: building and compiling DRF's select_related query cost more than running it, on
    every API call (issue #6). An unknown token or inactive user gets DRF's own answer."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        found = _user_by_token().instances(key=key)
        user = found[0] if found else None
        if user is None or not user.is_active:
            return super().authenticate_credentials(key)  # raises DRF's error
        if hasattr(user, "roles_text"):
            take_roles_column(user, user.roles_text)
        config_cache.take_version(getattr(user, "config_version", None))
        token = Token(key=key, user_id=user.pk, created=user.token_created)
        token.user = user
        return user, token
