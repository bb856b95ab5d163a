"""Password guessing is throttled on both doors: the token endpoint (10 a minute per address)
and the sign-in page (5 failures per username and address, 30 per address, for 15 minutes).
A forged X-Forwarded-For does not give a guesser a fresh address. The lockout is a clear
message with 429, never a 500, and it ends when the window does."""

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import Company

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Secret-123"
TOKEN_URL = "/api/v1/auth/token/"
LOCKED_TEXT = "Too many failed sign-in attempts"


def test_token_endpoint_allows_ten_attempts_a_minute_then_answers_429(
    company: Company,
) -> None:
    client = APIClient()
    for attempt in range(10):
        response = client.post(
            TOKEN_URL,
            {"username": "requester", "password": f"guess-{attempt}"},
            format="json",
            headers={"x-forwarded-for": f"10.0.0.{attempt}"},  # forged: not trusted
        )
        assert response.status_code == 400, attempt
        assert response.json()["code"] == "invalid_credentials"
    blocked = client.post(TOKEN_URL, {"username": "requester", "password": PASSWORD}, format="json")
    assert blocked.status_code == 429
    body = blocked.json()
    assert body["code"] == "throttled"
    assert body["retry_after"] > 0
    assert "Retry-After" in blocked.headers
    # Another address is not affected.
    other = APIClient(REMOTE_ADDR="192.0.2.7")
    ok = other.post(TOKEN_URL, {"username": "requester", "password": PASSWORD}, format="json")
    assert ok.status_code == 200 and ok.json()["token"]


def sign_in(client: Client, username: str, password: str, **headers: str) -> object:
    return client.post(
        "/accounts/login/",
        {"username": username, "password": password},
        headers={"accept-language": "en", **headers},
    )


def test_sign_in_page_locks_a_username_after_five_failures_from_an_address(
    company: Company,
) -> None:
    client = Client()
    for attempt in range(5):
        response = sign_in(client, "requester", f"guess-{attempt}")
        assert response.status_code == 200, attempt  # the form again, with its error
        assert LOCKED_TEXT not in response.content.decode()
    # Even the right password is refused now, with a clear message.
    locked = sign_in(client, "requester", PASSWORD)
    assert locked.status_code == 429
    page = locked.content.decode()
    assert LOCKED_TEXT in page
    assert 'role="alert"' in page
    assert "_auth_user_id" not in client.session
    # Forging X-Forwarded-For does not make a new address.
    forged = sign_in(client, "requester", PASSWORD, **{"x-forwarded-for": "203.0.113.9"})
    assert forged.status_code == 429
    # The same person from another address, and another user here, still sign in.
    assert sign_in(Client(REMOTE_ADDR="192.0.2.8"), "requester", PASSWORD).status_code == 302
    assert sign_in(Client(), "other", PASSWORD).status_code == 302


def test_sign_in_lockout_ends_with_its_window(company: Company) -> None:
    client = Client()
    for attempt in range(5):
        sign_in(client, "requester", f"guess-{attempt}")
    assert sign_in(client, "requester", PASSWORD).status_code == 429
    cache.clear()  # the window (LOGIN_LOCKOUT_SECONDS) has passed: the counters expired
    assert sign_in(client, "requester", PASSWORD).status_code == 302


def test_the_lockout_window_is_set_on_the_counter(company: Company, settings) -> None:
    """The counter expires by itself in Redis (no cleanup job), after LOGIN_LOCKOUT_SECONDS."""
    from servicedesk.auth import _attempt_keys

    settings.LOGIN_LOCKOUT_SECONDS = 600
    sign_in(Client(), "requester", "wrong")
    key, _limit = _attempt_keys("requester", "127.0.0.1")[0]
    redis = cache._cache.get_client(key, write=False)  # the real Redis behind the cache
    ttl = redis.ttl(cache.make_and_validate_key(key))
    assert 590 <= ttl <= 600


def test_spraying_many_usernames_from_one_address_is_locked_too(company: Company, settings) -> None:
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 4
    client = Client()
    for username in ("alice", "bob", "carol", "dave"):
        assert sign_in(client, username, "123456").status_code == 200
    assert sign_in(client, "requester", PASSWORD).status_code == 429


def test_successful_sign_ins_do_not_count_towards_the_lockout(company: Company) -> None:
    for _ in range(8):
        client = Client()
        assert sign_in(client, "requester", PASSWORD).status_code == 302
    assert sign_in(Client(), "requester", "wrong").status_code == 200
