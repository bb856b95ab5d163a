"""Sign-in: the token endpoint for other systems (POST username and password, get a token back)
and the sign-in page's form, both limited against password guessing; the session user of pages,
whose roles and header figures load in one query."""

import functools
import hashlib
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    authenticate,
    get_user_model,
)
from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import CharField, Count, QuerySet, Value
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from servicedesk.errors import DomainError
from servicedesk.statements import Statement, slot
from servicedesk.throttling import AuthRateThrottle
from slas import config_cache


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    http_status = status.HTTP_400_BAD_REQUEST


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, style={"input_type": "password"})


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()


class ObtainTokenView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthRateThrottle]

    @extend_schema(
        request=TokenRequestSerializer, responses={200: TokenResponseSerializer}, auth=[]
    )
    def post(self, request: Request) -> Response:
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if user is None or not user.is_active:
            raise InvalidCredentials(_("Unable to sign in with those credentials."))
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


# -- The sign-in page: failed attempts are counted per username and address, and per address ---


def client_address(request: HttpRequest) -> str:
    """The caller's address: REMOTE_ADDR, or the address the NUM_PROXIES-th trusted proxy saw.

    An X-Forwarded-For header from outside is only trusted as far as NUM_PROXIES says, so a
    client cannot pick a new address per attempt to dodge the limits.
    """
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return remote


def _attempt_keys(username: str, address: str) -> list[tuple[str, int]]:
    digest = hashlib.sha256(f"{username.casefold()}\x00{address}".encode()).hexdigest()[:32]
    return [
        (f"login-fail:user-address:{digest}", settings.LOGIN_FAILURE_LIMIT),
        (f"login-fail:address:{address}", settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS),
    ]


def sign_in_locked(username: str, address: str) -> bool:
    counts = cache.get_many([key for key, _limit in _attempt_keys(username, address)])
    return any(counts.get(key, 0) >= limit for key, limit in _attempt_keys(username, address))


def record_failed_sign_in(username: str, address: str) -> None:
    for key, _limit in _attempt_keys(username, address):
        # add() starts the window; incr() keeps its expiry (Redis INCR keeps the TTL).
        if not cache.add(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS):
            try:
                cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.add(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, refusing to check passwords while the caller is locked out."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "too_many_attempts": _lazy(
            "Too many failed sign-in attempts. Please wait %(minutes)s minutes and try again."
        ),
    }

    def clean(self) -> dict[str, Any]:
        username = (self.cleaned_data.get("username") or "")[:150]
        address = client_address(self.request) if self.request is not None else ""
        if sign_in_locked(username, address):
            raise ValidationError(
                self.error_messages["too_many_attempts"],
                code="too_many_attempts",
                params={"minutes": max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)},
            )
        try:
            return super().clean()
        except ValidationError:
            record_failed_sign_in(username, address)
            raise


class ThrottledLoginView(LoginView):
    form_class = ThrottledAuthenticationForm

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, "too_many_attempts"):
            response.status_code = 429
        return response


# -- The session user of pages ------------------------------------------------------------------

UNREAD_NOTIFICATIONS = "#unread"  # a companion row's tag (no role is named so)


def unread_notifications_row(user: Any) -> QuerySet:
    """(number of unread notifications, UNREAD_NOTIFICATIONS), or no row when there are none:
    the header's count, fetched with the user's roles (`departments.selectors`)."""
    from tickets.models import Notification

    return (
        Notification.objects.filter(user=user, read_at__isnull=True)
        .order_by()
        .values("user_id")
        .annotate(unread=Count("pk"))
        .values_list("unread", Value(UNREAD_NOTIFICATIONS, output_field=CharField()))
    )


def _shows_page_header(request: HttpRequest) -> bool:
    """A full page read: not the API, not an htmx partial, not a write (whose own changes the
    header must see, so it counts at render time as before)."""
    return (
        request.method in ("GET", "HEAD")
        and not request.path.startswith("/api/")
        and request.headers.get("HX-Request") != "true"
    )


MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _page_user(request: HttpRequest) -> Any:
    if not hasattr(request, "_cached_user"):  # as auth.middleware.get_user keeps it
        request._cached_user = _session_user(request)  # type: ignore[attr-defined]
    user = request._cached_user  # type: ignore[attr-defined]
    if user.is_authenticated:
        user.roles_companion_rows = unread_notifications_row
    return user


def _session_user(request: HttpRequest) -> Any:
    """`auth.get_user(request)`, the user read by a statement compiled once: building
    `User.objects.get` took 0.2 ms of every page, five times its query (issue #6).

    Only the usual case is answered here: a ModelBackend session whose hash the current secret
    verifies, of an active user (what ModelBackend accepts). Anything else takes Django's own
    path, which tries the fallback secrets and flushes a stale session."""
    session = request.session
    backend_path = session.get(BACKEND_SESSION_KEY)
    session_hash = session.get(HASH_SESSION_KEY)
    if (
        backend_path != MODEL_BACKEND
        or backend_path not in settings.AUTHENTICATION_BACKENDS
        or not session_hash
    ):
        return auth.get_user(request)
    try:
        user_id = get_user_model()._meta.pk.to_python(session[SESSION_KEY])
    except (KeyError, ValidationError):
        return auth.get_user(request)
    users = _session_user_statement().instances(user_id=user_id)
    if (
        not users
        or not users[0].is_active
        or not constant_time_compare(session_hash, users[0].get_session_auth_hash())
    ):
        return auth.get_user(request)
    config_cache.take_version(getattr(users[0], "config_version", None))
    return users[0]


@functools.cache
def _session_user_statement() -> Statement:
    """The user, with the SLA configuration's version (slas.config_cache) in the same query."""
    user_id = slot(0)
    users = get_user_model().objects.filter(pk=user_id)
    version = config_cache.version_column()
    if version is not None:
        users = users.annotate(config_version=version)
    return Statement(users, user_id=user_id)


class AuthenticationMiddleware(auth_middleware.AuthenticationMiddleware):
    """Django's, except that on a page read the user's roles (the menu) and unread
    notification count (the header) are one query instead of two, and the user is read at
    once: every page shows it (the header), and behind a lazy object each of the page's
    hundreds of reads of it (views, templates) was a proxied call."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        if _shows_page_header(request):
            request.user = _page_user(request)
