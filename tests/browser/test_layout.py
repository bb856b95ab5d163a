"""Sign-in, navigation, language switch and notifications in a real browser, both languages."""

import pytest
from playwright.sync_api import expect

from tickets.models import Notification

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_sign_in_and_read_a_notification(page, live_server, company, sign_in, shoot, language):
    Notification.objects.create(
        user=company.agent,
        kind="sla_breach",
        source_key="t:1",
        message="IT-2026-000001 响应超时",
        url="/notifications/",
    )
    sign_in(page, "agent", language=language)
    page.goto(f"{live_server.url}/notifications/")
    word = "通知" if language == "zh-hans" else "Notifications"
    assert page.locator("h1").inner_text() == word
    assert page.locator(".count").inner_text() == "1"
    shoot(page, "notifications", language)
    page.set_viewport_size(PHONE)
    shoot(page, "notifications", language, "phone")
    page.locator("button.small").click()
    expect(page.locator(".count")).to_have_count(0)


def test_language_switcher_changes_the_page_language(page, live_server, company, sign_in):
    sign_in(page, "requester", language="zh-hans")
    page.goto(f"{live_server.url}/notifications/")
    assert page.locator("h1").inner_text() == "通知"
    page.select_option("#lang", "en")
    expect(page.locator("h1")).to_have_text("Notifications")  # waits for the reload


def test_login_page_refuses_a_wrong_password(page, live_server, company, shoot):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "requester")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").is_visible()
    assert page.input_value("#id_username") == "requester"
    shoot(page, "login-error", "zh-hans")
