"""Rating journey in real Chromium: the employee rates a resolved ticket with a low score (a
forgotten score is pointed out next to the field first, via htmx) and asks to reopen it; the
ticket goes back to in progress; the head of the provider sees the rating on the dashboard.
Screenshots at desktop and phone width."""

import pytest
from playwright.sync_api import expect

from feedback.models import TicketRating
from tests.browser.conftest import SCREENSHOTS
from tests.feedback.rating_helpers import resolved_ticket
from tickets.models import Status, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}


def both_widths(page, shoot, name: str, language: str) -> None:
    shoot(page, name, language)
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    shoot(page, name, language, "phone")
    page.set_viewport_size(size)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_employee_rates_low_and_reopens_then_head_sees_the_rating(
    browser, live_server, company, sign_in, shoot, language
):
    ticket = resolved_ticket(company)
    employee = browser.new_context().new_page()
    sign_in(employee, "requester", language=language)
    employee.goto(f"{live_server.url}/tickets/{ticket.reference}/")
    rating = employee.locator("#rating")
    expect(rating).to_be_visible()
    # The reopen choice appears only once a low score is picked (stylesheet, no script).
    expect(employee.locator(".reopen-choice")).to_be_hidden()
    both_widths(employee, shoot, "rating-form", language)

    # Forgetting the overall score: the section comes back with the error beside the field.
    employee.locator("label[for=id_end_score_0]").click()
    employee.select_option("#id_worst_moment", "resolution")
    employee.locator("#rating button[type=submit]").click()
    expect(employee.locator("#score_errors")).to_be_visible()
    expect(employee.locator("#id_end_score_0")).to_be_checked()  # what was chosen is kept
    assert not TicketRating.objects.exists()
    both_widths(employee, shoot, "rating-form-error", language)

    # A score of 1 offers to reopen; the employee takes it.
    employee.locator("label[for=id_score_0]").click()
    expect(employee.locator(".reopen-choice")).to_be_visible()
    employee.locator("label[for=id_score_3]").click()  # 4: no reopen offered
    expect(employee.locator(".reopen-choice")).to_be_hidden()
    employee.locator("label[for=id_score_0]").click()
    employee.fill("#id_comment", "电脑还是开不了机")
    employee.check("#id_reopen")
    employee.locator("#rating button[type=submit]").click()
    expect(employee.locator(".messages")).to_be_visible()  # the whole page was reloaded
    if language == "en":
        expect(employee.locator(".messages")).to_contain_text("Your request was reopened.")
    expect(employee.locator("#rating")).to_contain_text("1/5")
    assert Ticket.objects.get(pk=ticket.pk).status == Status.IN_PROGRESS
    saved = TicketRating.objects.get(ticket=ticket)
    assert (saved.score, saved.end_score, saved.worst_moment) == (1, 1, "resolution")
    both_widths(employee, shoot, "rating-reopened", language)

    # The head of IT sees it on the dashboard.
    head = browser.new_context().new_page()
    sign_in(head, "ithead", language=language)
    head.goto(f"{live_server.url}/dashboard/")
    satisfaction = head.locator("section", has=head.locator("#satisfaction-h"))
    expect(satisfaction).to_contain_text("1.0 / 5")
    if language == "en":
        expect(satisfaction).to_contain_text("1 rating of the department's tickets")
    satisfaction.scroll_into_view_if_needed()
    both_widths(head, shoot, "dashboard-satisfaction", language)
    # The panel alone, legible at full size.
    satisfaction.screenshot(path=str(SCREENSHOTS / f"satisfaction-panel-{language}-desktop.png"))
    head.set_viewport_size(PHONE)
    satisfaction.screenshot(path=str(SCREENSHOTS / f"satisfaction-panel-{language}-phone.png"))
