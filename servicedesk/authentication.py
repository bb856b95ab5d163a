"""API authentication (REST_FRAMEWORK's DEFAULT_AUTHENTICATION_CLASSES): kept apart from
servicedesk.auth, whose views DRF's settings cannot import while `rest_framework.views` loads."""

from functools import cache
from typing import Any

from django.db.models import F
from rest_framework import authentication
from rest_framework.authtoken.models import Token

# Where the token's key goes in the compiled query's parameters (no key looks like it).
_KEY_SLOT = "\x00token key\x00"


@cache
def _user_by_token() -> tuple[str, list[Any], int]:
    """The user of a token, with the token's creation time, compiled to SQL once per process:
    (sql, parameters, the key's position among them)."""
    from departments.models import User

    users = User.objects.annotate(token_created=F("auth_token__created")).filter(
        auth_token__key=_KEY_SLOT
    )
    sql, params = users.query.sql_with_params()
    params = list(params)
    return sql, params, params.index(_KEY_SLOT)


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, reading the token's user through SQL compiled once per
    process: building and compiling DRF's select_related query cost more than running it, on
    every API call (issue #6). An unknown token or inactive user gets DRF's own answer."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        from departments.models import User

        sql, params, at = _user_by_token()
        params = [*params[:at], key, *params[at + 1 :]]
        user = next(iter(User.objects.raw(sql, params)), None)
        if user is None or not user.is_active:
            return super().authenticate_credentials(key)  # raises DRF's error
        token = Token(key=key, user_id=user.pk, created=user.token_created)
        token.user = user
        return user, token
