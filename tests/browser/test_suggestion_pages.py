"""The suggestion box and the PDCA board in real Chromium: an employee sends an anonymous
suggestion in Chinese; IT's head answers and accepts it in English (htmx, in place), creates an
improvement action from it, and finds the card on the board and moves it on. Screenshots of
each page at desktop and phone width."""

import pytest
from playwright.sync_api import expect

from feedback.models import ImprovementAction, Suggestion

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}


UNLABELLED = """
els => els.filter(el => el.type !== 'hidden' && el.type !== 'submit'
                   && !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                   && !el.getAttribute('aria-labelledby'))
          .map(el => el.outerHTML.slice(0, 120))
"""


def both_widths(page, shoot, name: str, language: str) -> None:
    """Screenshots at both widths, after checking every form control has a label."""
    assert page.locator("input, select, textarea").evaluate_all(UNLABELLED) == [], name
    shoot(page, name, language)
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    shoot(page, name, language, "phone")
    page.set_viewport_size(size)


def test_anonymous_suggestion_answered_and_turned_into_an_improvement_action(
    browser, live_server, company, sign_in, shoot
):
    # -- The employee sends an anonymous suggestion, in Chinese.
    employee = browser.new_context().new_page()
    sign_in(employee, "requester", language="zh-hans")
    employee.goto(f"{live_server.url}/suggestions/")
    expect(employee.locator("#anonymous-explain")).to_be_visible()
    employee.select_option("#id_department", str(company.it.pk))
    employee.fill("#id_title", "三楼打印机不够用")
    employee.fill("#id_body", "每天上午排队十几分钟，建议再加一台打印机。")
    employee.check("#id_anonymous")
    both_widths(employee, shoot, "suggestion-form", "zh-hans")
    employee.locator("form.stacked button[type=submit]").click()
    employee.wait_for_load_state()
    expect(employee.locator(".messages li")).to_be_visible()
    # Anonymous: it is not listed as theirs.
    expect(employee.locator("#mine-h ~ ul .suggestion")).to_have_count(0)
    both_widths(employee, shoot, "suggestion-sent", "zh-hans")
    suggestion = Suggestion.objects.get()
    assert suggestion.author_id is None and suggestion.anonymous

    # -- IT's head answers and accepts it, in English, without leaving the page.
    head = browser.new_context().new_page()
    sign_in(head, "ithead", language="en")
    head.goto(f"{live_server.url}/suggestions/")
    item = head.locator(f"#suggestion-{suggestion.pk}")
    expect(item).to_contain_text("三楼打印机不够用")
    expect(item).to_contain_text("Anonymous")
    head.select_option(f"#id_s{suggestion.pk}-status", "accepted")
    head.fill(f"#id_s{suggestion.pk}-answer", "Agreed: a second printer arrives next week.")
    item.get_by_role("button", name="Save answer").click()
    expect(head.locator(f"#suggestion-{suggestion.pk} .saved")).to_be_visible()
    expect(head.locator(f"#suggestion-{suggestion.pk} .badge")).to_have_text("accepted")
    both_widths(head, shoot, "suggestion-inbox", "en")
    suggestion.refresh_from_db()
    assert suggestion.status == "accepted"
    assert suggestion.answer == "Agreed: a second printer arrives next week."

    # -- ... and creates an improvement action from it.
    head.locator(f"#suggestion-{suggestion.pk}").get_by_role(
        "link", name="Create improvement action"
    ).click()
    head.wait_for_load_state()
    expect(head.locator("#id_source")).to_have_value(f"suggestion:{suggestion.pk}")
    expect(head.locator("#id_title")).to_have_value("三楼打印机不够用")
    head.fill("#id_title", "")  # refused first: the error sits by the field, input kept
    head.select_option("#id_owner", str(company.agent.pk))
    head.fill("#id_metric", "Minutes queuing at the printer")
    head.fill("#id_baseline", "15")
    head.get_by_role("button", name="Save").click()
    head.wait_for_load_state()
    expect(head.locator("#id_title_errors")).to_be_visible()
    expect(head.locator("#id_metric")).to_have_value("Minutes queuing at the printer")
    expect(head.locator("#id_baseline")).to_have_value("15")
    both_widths(head, shoot, "action-form", "en")
    head.fill("#id_title", "Second printer on floor 3")
    head.fill("#id_due_date", "2020-01-31")  # already past: the card shows it overdue
    head.get_by_role("button", name="Save").click()
    head.wait_for_load_state()

    # -- The board shows the card in Plan, with its source, owner, metric and overdue badge.
    assert head.url.startswith(f"{live_server.url}/actions/")
    action = ImprovementAction.objects.get()
    card = head.locator(f"#action-{action.pk}")
    expect(head.locator(".pdca-column.stage-plan")).to_contain_text("Second printer on floor 3")
    expect(card).to_contain_text("overdue")
    expect(card).to_contain_text("15.00 → –")
    expect(card.get_by_role("link", name="三楼打印机不够用")).to_be_visible()
    both_widths(head, shoot, "actions-board", "en")
    card.get_by_role("button", name="Move to do").click()
    head.wait_for_load_state()
    expect(head.locator(".pdca-column.stage-do")).to_contain_text("Second printer on floor 3")
    action.refresh_from_db()
    assert action.stage == "do"
    assert (action.department, action.source_type, action.source_id) == (
        company.it,
        "suggestion",
        suggestion.pk,
    )
