"""The notifications page and the header's unread count."""

import pytest

from tickets.models import Notification

pytestmark = pytest.mark.django_db


def notify(user, n: int = 1, **extra):
    for i in range(n):
        Notification.objects.create(
            user=user,
            kind="sla_breach",
            message=f"IT-2026-00000{i} 超时",
            url="/tickets/x/",
            source_key=f"test:{i}",
            **extra,
        )


def test_header_shows_unread_count_and_page_lists_them(client, company):
    notify(company.agent, 3)
    notify(company.requester, 1)  # someone else's: never shown to the agent
    client.force_login(company.agent)
    page = client.get("/notifications/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    text = page.content.decode()
    assert '<span class="count"' in text and ">3</span>" in text
    assert text.count('<li class="unread">') == 3


def test_marking_one_and_all_read(client, company):
    notify(company.agent, 3)
    client.force_login(company.agent)
    first = Notification.objects.filter(user=company.agent).first()
    client.post("/notifications/read/", {"id": first.pk})
    assert Notification.objects.filter(user=company.agent, read_at__isnull=True).count() == 2
    client.post("/notifications/read/")
    assert not Notification.objects.filter(user=company.agent, read_at__isnull=True).exists()
    text = client.get("/notifications/?unread=1", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No notifications." in text


def test_nobody_marks_anothers_notifications(client, company):
    notify(company.requester, 1)
    other = Notification.objects.get(user=company.requester)
    client.force_login(company.agent)
    client.post("/notifications/read/", {"id": other.pk})
    other.refresh_from_db()
    assert other.read_at is None


def test_page_needs_sign_in(client):
    response = client.get("/notifications/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_chinese_page(client, company):
    client.force_login(company.agent)
    text = client.get("/notifications/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "通知" in text
