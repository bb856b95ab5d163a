"""Survey pages in real Chromium: an employee answers a SERVQUAL campaign in Chinese (first
forgetting a question: it is named, the other choices stay), another answers a KANO campaign in
English, and the head of the provider opens the results (≥ 5 respondents) and sees the gap chart.
Screenshots at desktop and phone width."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from feedback import surveys
from feedback.models import SurveyResponse
from feedback.questionnaires import DEFAULT_SERVQUAL_ITEMS
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}


def both_widths(page, shoot, name: str, language: str) -> None:
    shoot(page, name, language)
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    shoot(page, name, language, "phone")
    page.set_viewport_size(size)


def campaign(company, kind: str, title: str, items=None):
    survey = surveys.create_survey(
        actor=company.it_head,
        kind=kind,
        title=title,
        provider_department=company.it,
        audience_departments=[company.hr],
        opens_at=timezone.now() + timedelta(hours=1),
        closes_at=timezone.now() + timedelta(days=14),
        items=items,
    )
    surveys.open_survey(survey_id=survey.pk)
    return survey


def test_employees_answer_and_the_head_reads_the_gap_chart(
    browser, live_server, company, sign_in, shoot
):
    others = [UserFactory(username=f"colleague{i}", department=company.hr) for i in range(5)]
    servqual = campaign(company, "servqual", "2026 年一季度 IT 服务质量调查")
    kano = campaign(
        company,
        "kano",
        "New IT service features",
        items=[
            {"key": "self_reset", "feature": "Self-service password reset"},
            {"key": "loaner", "feature": "A loaner laptop while yours is repaired"},
        ],
    )

    # -- An employee answers the SERVQUAL campaign in Chinese.
    page = browser.new_context().new_page()
    sign_in(page, "requester", language="zh-hans")
    page.goto(f"{live_server.url}/surveys/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    both_widths(page, shoot, "surveys-list-employee", "zh-hans")
    page.locator(f"a[href='/surveys/{servqual.pk}/']").first.click()
    page.wait_for_url(f"**/surveys/{servqual.pk}/")
    both_widths(page, shoot, "survey-servqual-form", "zh-hans")
    for number, item in enumerate(DEFAULT_SERVQUAL_ITEMS):
        page.click(f"label[for='id_{item.key}-expectation_{5 + number % 2}']")  # 6 or 7
        if item.key != "reliability_3":  # forgotten
            page.click(f"label[for='id_{item.key}-perception_{2 + number % 3}']")
    page.locator("button.submit").click()
    expect(page.locator("#q-reliability_3-perception .errorlist")).to_be_visible()
    expect(page.locator("#error-summary")).to_be_visible()
    # The choices made stay made.
    expect(page.locator("#id_tangibles_1-expectation_5")).to_be_checked()
    expect(page.locator("#id_tangibles_1-perception_2")).to_be_checked()
    page.locator("#error-summary a").click()
    both_widths(page, shoot, "survey-servqual-error", "zh-hans")
    page.click("label[for='id_reliability_3-perception_3']")
    page.locator("button.submit").click()
    page.wait_for_url(re.compile(rf"/surveys/{servqual.pk}/\?done=1"))
    expect(page.locator(".survey-state.thanks")).to_be_visible()
    both_widths(page, shoot, "survey-thanks", "zh-hans")
    assert SurveyResponse.objects.filter(survey=servqual).count() == 1
    page.goto(f"{live_server.url}/surveys/{servqual.pk}/")
    expect(page.locator(".survey-state.answered")).to_be_visible()

    # -- Another employee answers the KANO campaign in English, on a phone.
    phone = browser.new_context(viewport=PHONE).new_page()
    sign_in(phone, "other", language="en")
    phone.goto(f"{live_server.url}/surveys/{kano.pk}/")
    expect(phone.get_by_role("heading", name="Self-service password reset")).to_be_visible()
    shoot(phone, "survey-kano-form", "en", "phone")
    phone.set_viewport_size({"width": 1280, "height": 900})
    shoot(phone, "survey-kano-form", "en")
    phone.set_viewport_size(PHONE)
    for key in ("self_reset", "loaner"):
        group = phone.get_by_role("group", name="How would you feel if the service had this")
        expect(group.first).to_be_visible()
        phone.locator(f"#q-{key}-functional").get_by_label("I like it that way").check()
        phone.locator(f"#q-{key}-dysfunctional").get_by_label("I dislike it that way").check()
    phone.get_by_role("button", name="Send answers").click()
    phone.wait_for_url(re.compile(rf"/surveys/{kano.pk}/\?done=1"))
    expect(phone.get_by_text("Thank you!")).to_be_visible()
    answer = SurveyResponse.objects.get(survey=kano).answers.get(item__key="loaner")
    assert (answer.functional, answer.dysfunctional) == ("like", "dislike")

    # -- Five more colleagues answer the SERVQUAL campaign (through the service).
    for user in others:
        surveys.submit_response(
            user=user,
            survey=servqual,
            answers=[
                {"item": item.key, "expectation": 6, "perception": 4}
                for item in DEFAULT_SERVQUAL_ITEMS
            ],
        )

    # -- The head of IT opens the results from the surveys page.
    head = browser.new_context().new_page()
    sign_in(head, "ithead", language="en")
    head.goto(f"{live_server.url}/surveys/")
    both_widths(head, shoot, "surveys-list-head", "en")
    head.locator(f"a[href='/surveys/{servqual.pk}/results/']").first.click()
    head.wait_for_url(f"**/surveys/{servqual.pk}/results/")
    chart = head.locator("svg.gap-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("rect")).to_have_count(5)
    expect(head.locator("dd.respondents")).to_have_text("6")
    expect(head.locator("tr[data-dimension='empathy']")).to_be_visible()
    both_widths(head, shoot, "survey-results-servqual", "en")
    head.goto(f"{live_server.url}/surveys/{kano.pk}/results/")
    expect(head.get_by_text("Too few respondents to show").first).to_be_visible()
    shoot(head, "survey-results-kano-suppressed", "en")

    # -- The same results in Chinese.
    head_zh = browser.new_context().new_page()
    sign_in(head_zh, "ithead", language="zh-hans")
    head_zh.goto(f"{live_server.url}/surveys/{servqual.pk}/results/")
    expect(head_zh.locator("svg.gap-chart")).to_be_visible()
    both_widths(head_zh, shoot, "survey-results-servqual", "zh-hans")

    # -- Once closed, the campaign's gap shows on the head's dashboard, linking to the results.
    surveys.close_survey(survey_id=servqual.pk)
    head.goto(f"{live_server.url}/dashboard/")
    panel = head.locator("section[aria-labelledby='servqual-panel-h']")
    expect(panel.locator("svg.gap-chart")).to_be_visible()
    panel.scroll_into_view_if_needed()
    both_widths(head, shoot, "dashboard-servqual", "en")
    panel.locator(f"a[href='/surveys/{servqual.pk}/results/']").click()
    head.wait_for_url(f"**/surveys/{servqual.pk}/results/")
