"""Every page's fixed cost: the session and the header (menu by role, unread count), loaded in as
few queries as possible without showing anything stale.

Sessions stay plain database sessions: a Redis-cached copy saved a query per page, but a sign-out
while Redis is unreachable would either fail or leave a copy that comes back with Redis."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tickets.models import Notification

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Secret-123"  # tests.factories.UserFactory


def notify(user, n: int) -> None:
    for i in range(n):
        Notification.objects.create(
            user=user, kind="sla_breach", message=f"超时 {i}", url="/", source_key=f"t:{i}"
        )


def signed_in(username: str) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content[:300]
    return client


def unread_badge(text: str) -> str | None:
    marker = '<span class="count"'
    if marker not in text:
        return None
    return text.split(marker, 1)[1].split(">", 1)[1].split("<", 1)[0]


@pytest.mark.parametrize(
    ("who", "unread", "shows_queue"),
    [("agent", 3, True), ("requester", 2, False), ("agent", 0, True), ("requester", 0, False)],
)
def test_header_shows_the_menu_by_role_and_the_unread_count(company, who, unread, shows_queue):
    user = getattr(company, who)
    notify(user, unread)
    notify(company.it_head, 5)  # someone else's: never counted
    client = Client()
    client.force_login(user)
    text = client.get("/requests/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert unread_badge(text) == (str(unread) if unread else None)
    assert ('href="/queue/"' in text) is shows_queue


def test_roles_and_unread_count_are_one_query_on_a_page(company):
    notify(company.agent, 2)
    client = Client()
    client.force_login(company.agent)
    client.get("/requests/")
    with CaptureQueriesContext(connection) as queries:
        text = client.get("/requests/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    header = [q["sql"] for q in queries if "tickets_notification" in q["sql"]]
    assert len(header) == 1 and "departments_membership" in header[0], header
    assert unread_badge(text) == "2"


def test_unread_count_after_marking_read_is_the_new_one(company):
    notify(company.agent, 3)
    client = Client()
    client.force_login(company.agent)
    assert unread_badge(client.get("/notifications/").content.decode()) == "3"
    first = Notification.objects.filter(user=company.agent).first()
    client.post("/notifications/read/", {"id": first.pk})
    assert unread_badge(client.get("/notifications/").content.decode()) == "2"
    client.post("/notifications/read/")
    assert unread_badge(client.get("/notifications/").content.decode()) is None


def test_a_signed_out_session_stays_signed_out(company):
    client = signed_in("agent")
    assert client.get("/requests/").status_code == 200
    stolen = client.cookies["sessionid"].value
    client.post("/accounts/logout/")
    replay = Client()
    replay.cookies["sessionid"] = stolen
    response = replay.get("/requests/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_changing_the_password_signs_out_other_sessions(company):
    elsewhere = signed_in("agent")
    assert elsewhere.get("/requests/").status_code == 200
    company.agent.set_password("a-New-password-456")
    company.agent.save()
    response = elsewhere.get("/requests/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_pages_load_from_the_database_while_redis_is_down(company, settings):
    client = signed_in("agent")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    response = client.get("/requests/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    text = response.content.decode()
    assert f'<span class="me">{company.agent}</span>' in text and "Sign out" in text


def test_signing_out_works_while_redis_is_down(company, settings):
    client = signed_in("agent")
    stolen = client.cookies["sessionid"].value
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    assert client.post("/accounts/logout/").status_code in (200, 302)
    replay = Client()
    replay.cookies["sessionid"] = stolen
    assert replay.get("/requests/").status_code == 302


def test_an_expired_session_is_signed_out(company):
    client = signed_in("agent")
    assert client.get("/requests/").status_code == 200
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/requests/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_an_unknown_session_key_is_anonymous(company):
    client = Client()
    client.cookies["sessionid"] = "x" * 32
    response = client.get("/requests/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_page_reads_its_session_with_one_query(company):
    client = signed_in("agent")
    client.get("/requests/")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/requests/").status_code == 200
    sessions = [q["sql"] for q in queries if "django_session" in q["sql"]]
    assert len(sessions) == 1 and sessions[0].lstrip().upper().startswith("SELECT"), sessions


@pytest.mark.parametrize("first", ["en", "zh-hans"])
def test_header_is_each_viewers_own_in_each_language(company, first):
    """Pages rendered one after another in one process: each header follows its own request's
    language and viewer's roles."""
    head, requester = Client(), Client()
    head.force_login(company.it_head)
    requester.force_login(company.requester)
    second = "zh-hans" if first == "en" else "en"
    for language in (first, second, first):
        head_page = head.get("/requests/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
        requester_page = requester.get("/requests/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
        english = language == "en"
        for text in (head_page, requester_page):
            assert f'<html lang="{language}">' in text
            assert ("Skip to content" in text) is english and ("跳到正文" in text) is not english
            switcher = text.split('<select id="lang"', 1)[1].split("</select>", 1)[0]
            assert f'<option value="{language}" selected>' in switcher
            assert switcher.count(" selected>") == 1
        assert 'href="/queue/"' in head_page and 'href="/dashboard/"' in head_page
        assert 'href="/queue/"' not in requester_page
        assert 'href="/dashboard/"' not in requester_page
