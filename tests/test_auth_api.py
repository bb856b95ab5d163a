"""Token sign-in for other systems (DESIGN §3): `POST /api/v1/auth/token/` returns a token that
authenticates as `Authorization: Token <token>`; wrong credentials and floods are refused."""

import pytest
from rest_framework.test import APIClient

from servicedesk.throttling import AuthRateThrottle
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
PASSWORD = "pw-Secret-123"  # tests.factories.UserFactory's password


@pytest.fixture
def employee(db):
    return UserFactory(username="zhang.wei")


def sign_in(username: str, password: str) -> object:
    return APIClient().post(TOKEN_URL, {"username": username, "password": password}, format="json")


def test_good_credentials_return_a_token(employee):
    response = sign_in("zhang.wei", PASSWORD)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"token"}
    assert isinstance(body["token"], str) and len(body["token"]) >= 20


def test_signing_in_twice_returns_the_same_token(employee):
    assert sign_in("zhang.wei", PASSWORD).json() == sign_in("zhang.wei", PASSWORD).json()


def test_the_token_authenticates_api_calls(employee):
    token = sign_in("zhang.wei", PASSWORD).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get(f"/api/v1/users/{employee.pk}/")
    assert response.status_code == 200, response.content
    assert response.json()["username"] == "zhang.wei"


def test_a_made_up_token_is_refused(employee):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    response = client.get("/api/v1/tickets/")
    # 403 rather than 401 while SessionAuthentication is the first authentication class.
    assert response.status_code in (401, 403), response.content
    assert response.json()["code"] == "authentication_failed"


def test_without_credentials_the_api_is_closed(employee):
    response = APIClient().get("/api/v1/tickets/")
    assert response.status_code in (401, 403), response.content
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param("zhang.wei", "wrong-password", id="wrong-password"),
        pytest.param("nobody", PASSWORD, id="unknown-user"),
        pytest.param("ZHANG.WEI", "wrong-password", id="other-case-wrong-password"),
    ],
)
def test_bad_credentials_are_refused_as_invalid_credentials(employee, username, password):
    response = sign_in(username, password)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_credentials"
    assert body["detail"]
    assert "token" not in body


def test_a_deactivated_user_cannot_sign_in(employee):
    employee.is_active = False
    employee.save(update_fields=["is_active"])
    response = sign_in("zhang.wei", PASSWORD)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_credentials"


def test_a_sign_in_without_password_names_the_missing_field(employee):
    response = APIClient().post(TOKEN_URL, {"username": "zhang.wei"}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert "password" in response.json()["fields"]


def test_sign_in_attempts_are_throttled(employee, monkeypatch):
    # DRF reads rates into a class attribute at import time, so patch the class, not settings.
    monkeypatch.setattr(
        AuthRateThrottle, "THROTTLE_RATES", {**AuthRateThrottle.THROTTLE_RATES, "auth": "3/min"}
    )
    for _ in range(3):
        assert sign_in("zhang.wei", "wrong-password").status_code == 400
    response = sign_in("zhang.wei", PASSWORD)  # even the right password waits
    assert response.status_code == 429, response.content
    body = response.json()
    assert body["code"] == "throttled"
    assert body["detail"]
    assert int(response["Retry-After"]) > 0
