"""The signed-in user of a page read (servicedesk.auth): read by a compiled statement, with
Django's own checks (an active user, a session hash the secret verifies) and Django's path for
everything else."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Secret-123"  # tests.factories.UserFactory


def signed_in(username: str) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content[:300]
    return client


def shows_page(client: Client) -> bool:
    response = client.get("/requests/", HTTP_ACCEPT_LANGUAGE="en")
    if response.status_code == 302:
        assert response["Location"].startswith("/accounts/login/")
        return False
    assert response.status_code == 200
    return True


def test_the_page_user_is_read_in_one_query_with_all_its_columns(company):
    client = signed_in("agent")
    shows_page(client)
    with CaptureQueriesContext(connection) as queries:
        text = client.get("/requests/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    users = [q["sql"] for q in queries if 'FROM "departments_user"' in q["sql"]]
    assert len(users) == 1, users
    assert f'<span class="me">{company.agent}</span>' in text


def test_a_deactivated_users_session_no_longer_signs_in(company):
    client = signed_in("agent")
    assert shows_page(client)
    company.agent.is_active = False
    company.agent.save(update_fields=["is_active"])
    assert not shows_page(client)


def test_a_deleted_users_session_no_longer_signs_in(company):
    client = signed_in("other")
    assert shows_page(client)
    company.other_employee.delete()
    assert not shows_page(client)


def test_a_session_signed_with_a_rotated_secret_still_signs_in(company, settings):
    client = signed_in("agent")
    assert shows_page(client)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-that-is-long-enough-for-the-checks-0123456789"
    assert shows_page(client)  # Django's path: the fallback verifies it, the hash is renewed
    settings.SECRET_KEY_FALLBACKS = []
    assert shows_page(client)


def test_a_session_of_another_backend_takes_djangos_path(company, settings):
    client = Client()
    client.force_login(company.agent, backend="tests.test_page_user.RefusingBackend")
    settings.AUTHENTICATION_BACKENDS = [
        "django.contrib.auth.backends.ModelBackend",
        "tests.test_page_user.RefusingBackend",
    ]
    assert not shows_page(client)  # the backend the session names knows nobody


class RefusingBackend:
    def authenticate(self, request: object, **credentials: object) -> None:
        return None

    def get_user(self, user_id: int) -> None:
        return None
