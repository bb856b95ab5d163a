"""Survey pages (DESIGN §3 "Pages", §2 "Feedback"): the list, the answer form, the results,
the heads' dashboard panel and the feedback admin.

The company (tests/conftest.py): IT is the provider running the campaigns; HR (requester,
other_employee, hr_head) is the audience; finance_agent's home is Finance, outside the audience.
Expected figures come from the SERVQUAL definition (gap = mean perception − mean expectation)
and the Kano evaluation table (like/dislike = one-dimensional, like/neutral = attractive;
better = (A+O)/(A+O+M+I), worse = −(O+M)/(A+O+M+I)).
"""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from departments.models import Membership, User
from feedback import surveys
from feedback.models import Suggestion, Survey, SurveyResponse
from feedback.questionnaires import DEFAULT_SERVQUAL_ITEMS
from tests.factories import DepartmentFactory, UserFactory, make_member

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def html(response) -> str:
    return response.content.decode()


def servqual(company, *, title: str = "2026 Q1 IT 服务质量", days: int = 14, audience=None):
    survey = surveys.create_survey(
        actor=company.it_head,
        kind="servqual",
        title=title,
        provider_department=company.it,
        audience_departments=audience or [company.hr],
        opens_at=timezone.now() + timedelta(hours=1),
        closes_at=timezone.now() + timedelta(days=days),
    )
    surveys.open_survey(survey_id=survey.pk)
    survey.refresh_from_db()
    return survey


def kano(company):
    survey = surveys.create_survey(
        actor=company.it_head,
        kind="kano",
        title="New IT features",
        provider_department=company.it,
        audience_departments=[company.hr],
        opens_at=timezone.now() + timedelta(hours=1),
        closes_at=timezone.now() + timedelta(days=14),
        items=[{"key": "self_reset", "feature": "Self-service password reset"}],
    )
    surveys.open_survey(survey_id=survey.pk)
    survey.refresh_from_db()
    return survey


def servqual_answers(expectation: int, perception: int, *, tangibles=None) -> list[dict]:
    """Every default item answered alike; tangibles items may get their own pair."""
    out = []
    for item in DEFAULT_SERVQUAL_ITEMS:
        e, p = (expectation, perception)
        if tangibles and item.dimension == "tangibles":
            e, p = tangibles
        out.append({"item": item.key, "expectation": e, "perception": p})
    return out


def respondents(department, n: int, prefix: str) -> list[User]:
    return [UserFactory(username=f"{prefix}{i}", department=department) for i in range(n)]


def answer_all(survey, users, answers) -> None:
    for user in users:
        surveys.submit_response(user=user, survey=survey, answers=answers)


@pytest.fixture
def staff(db) -> User:
    return UserFactory(username="admin1", is_staff=True, department=None)


@pytest.fixture
def finance_head(company) -> User:
    return make_member(
        company.finance, Membership.Role.HEAD, username="finhead", department=company.finance
    )


# -- Who may open what -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "answer_status", "results_status"),
    [
        ("requester", 200, 404),  # employee in the audience
        ("finance_agent", 404, 404),  # employee outside the audience
        ("it_head", 404, 200),  # head of the provider (not in the audience)
        ("finance_head", 404, 404),  # head of another department
        ("hr_head", 200, 404),  # head of a consumer department: answers like its employees
        ("agent", 404, 404),  # agent of the provider: no results
        ("staff", 404, 200),  # admin
    ],
)
def test_access_matrix_for_answer_and_results_pages(
    client, company, staff, finance_head, who, answer_status, results_status
):
    survey = servqual(company)
    user = {"staff": staff, "finance_head": finance_head}.get(who) or getattr(company, who)
    client.force_login(user)
    assert client.get(f"/surveys/{survey.pk}/").status_code == answer_status
    assert client.get(f"/surveys/{survey.pk}/results/").status_code == results_status


def test_unknown_survey_is_404(client, company):
    client.force_login(company.requester)
    assert client.get("/surveys/999999/").status_code == 404
    assert client.get("/surveys/999999/results/").status_code == 404


def test_pages_need_sign_in(client, company):
    survey = servqual(company)
    for url in ("/surveys/", f"/surveys/{survey.pk}/", f"/surveys/{survey.pk}/results/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


# -- The list --------------------------------------------------------------------------------------


def test_employee_list_shows_open_invitations_with_closing_time_and_answered_ones(client, company):
    to_answer = servqual(company, title="Waiting survey")
    done = servqual(company, title="Done survey")
    surveys.submit_response(user=company.requester, survey=done, answers=servqual_answers(6, 5))
    client.force_login(company.requester)
    page = html(client.get("/surveys/", **EN))
    waiting, answered = page.split("Answered", 1) if "Answered" in page else (page, "")
    assert f'href="/surveys/{to_answer.pk}/"' in waiting
    assert "Closes" in waiting
    assert "Done survey" not in waiting
    assert "Done survey" in answered
    assert "Campaigns you manage" not in page


def test_head_sees_managed_campaigns_with_state_results_link_and_buttons(client, company):
    open_one = servqual(company, title="Open one")
    scheduled = surveys.create_survey(
        actor=company.it_head,
        kind="servqual",
        title="Later one",
        provider_department=company.it,
        audience_departments=[company.hr],
        opens_at=timezone.now() + timedelta(days=30),
        closes_at=timezone.now() + timedelta(days=40),
    )
    client.force_login(company.it_head)
    page = html(client.get("/surveys/", **EN))
    assert "Campaigns you manage" in page
    assert f'href="/surveys/{open_one.pk}/results/"' in page
    assert f'action="/surveys/{scheduled.pk}/open/"' in page
    assert f'action="/surveys/{open_one.pk}/open/"' not in page  # already open
    assert f'action="/surveys/{open_one.pk}/close/"' in page

    response = client.post(f"/surveys/{scheduled.pk}/open/", **EN)
    assert response.status_code == 302
    scheduled.refresh_from_db()
    assert scheduled.state == Survey.State.OPEN
    client.post(f"/surveys/{open_one.pk}/close/")
    open_one.refresh_from_db()
    assert open_one.state == Survey.State.CLOSED
    page = html(client.get("/surveys/", **EN))
    assert f'action="/surveys/{open_one.pk}/close/"' not in page


def test_open_and_close_buttons_are_refused_to_others(client, company):
    survey = servqual(company)
    client.force_login(company.requester)
    assert client.post(f"/surveys/{survey.pk}/close/").status_code == 404
    client.force_login(company.it_head)
    assert client.get(f"/surveys/{survey.pk}/close/").status_code == 405
    survey.refresh_from_db()
    assert survey.state == Survey.State.OPEN


# -- Answering -------------------------------------------------------------------------------------


def test_servqual_form_groups_items_by_dimension_with_two_labelled_scales(client, company):
    survey = servqual(company)
    client.force_login(company.requester)
    page = html(client.get(f"/surveys/{survey.pk}/", **EN))
    for heading in ("Tangibles", "Reliability", "Responsiveness", "Assurance", "Empathy"):
        assert f">{heading}</h2>" in page
    for item in DEFAULT_SERVQUAL_ITEMS:
        for part in ("expectation", "perception"):
            name = f"{item.key}-{part}"
            assert page.count(f'name="{name}"') == 7
            # Each radio has its own <label for=...>, inside a fieldset with a legend.
            assert f'<label class="option" for="id_{name}_0">' in page
            assert f'<fieldset class="scale" id="q-{name}">' in page
    assert page.count("<legend>") == 2 * len(DEFAULT_SERVQUAL_ITEMS)


def test_bad_answers_keep_the_choices_and_name_each_question(client, company):
    survey = servqual(company)
    client.force_login(company.requester)
    data = {
        f"{item.key}-{part}": "4"
        for item in DEFAULT_SERVQUAL_ITEMS
        for part in ("expectation", "perception")
    }
    data["tangibles_1-expectation"] = "6"
    del data["tangibles_2-perception"]  # forgotten
    data["empathy_5-expectation"] = "9"  # off the scale
    response = client.post(f"/surveys/{survey.pk}/", data, **EN)
    assert response.status_code == 400
    page = html(response)
    assert "Some questions need an answer" in page
    assert '<fieldset class="scale has-error" id="q-tangibles_2-perception"' in page
    assert '<fieldset class="scale has-error" id="q-empathy_5-expectation"' in page
    errors = re.search(r'id="tangibles_2-perception-errors">(.*?)</ul>', page).group(1)
    assert "Choose a number from 1 to 7." in errors
    # What was chosen stays chosen.
    assert re.search(r'name="tangibles_1-expectation" value="6" id="[^"]+" checked', page)
    assert re.search(r'name="tangibles_2-expectation" value="4" id="[^"]+" checked', page)
    assert SurveyResponse.objects.count() == 0


def test_answering_thanks_then_says_already_answered(client, company):
    survey = servqual(company)
    client.force_login(company.requester)
    data = {
        f"{item.key}-{part}": "5"
        for item in DEFAULT_SERVQUAL_ITEMS
        for part in ("expectation", "perception")
    }
    response = client.post(f"/surveys/{survey.pk}/", data, **EN)
    assert response.status_code == 302
    assert "Thank you" in html(client.get(response["Location"], **EN))
    response = SurveyResponse.objects.get()
    assert response.consumer_department == company.hr
    assert response.answers.count() == len(DEFAULT_SERVQUAL_ITEMS)

    page = html(client.get(f"/surveys/{survey.pk}/", **EN))
    assert "You have already answered this survey" in page
    assert 'name="tangibles_1-expectation"' not in page
    again = client.post(f"/surveys/{survey.pk}/", data, **EN)
    assert again.status_code == 409
    assert "You have already answered this survey" in html(again)
    assert SurveyResponse.objects.count() == 1


def test_closed_campaign_says_closed_and_takes_no_answers(client, company):
    survey = servqual(company)
    surveys.close_survey(survey_id=survey.pk)
    client.force_login(company.requester)
    assert "This survey is closed" in html(client.get(f"/surveys/{survey.pk}/", **EN))
    response = client.post(f"/surveys/{survey.pk}/", {"tangibles_1-expectation": "5"}, **EN)
    assert response.status_code == 409
    assert SurveyResponse.objects.count() == 0


def test_kano_form_asks_both_questions_with_the_five_standard_answers(client, company):
    survey = kano(company)
    client.force_login(company.requester)
    page = html(client.get(f"/surveys/{survey.pk}/", **EN))
    assert "Self-service password reset" in page
    for part in ("functional", "dysfunctional"):
        for value in ("like", "must_be", "neutral", "live_with", "dislike"):
            assert f'name="self_reset-{part}" value="{value}"' in page
    for text in (
        "I like it that way",
        "It must be that way",
        "I am neutral",
        "I can live with it that way",
        "I dislike it that way",
    ):
        assert page.count(text) == 2
    response = client.post(
        f"/surveys/{survey.pk}/",
        {"self_reset-functional": "like", "self_reset-dysfunctional": "dislike"},
    )
    assert response.status_code == 302
    answer = SurveyResponse.objects.get().answers.get()
    assert (answer.functional, answer.dysfunctional) == ("like", "dislike")


# -- Results ---------------------------------------------------------------------------------------


def test_servqual_results_show_gaps_per_dimension_item_and_consumer_department(client, company):
    legal = DepartmentFactory(name="法务部", code="LEG")
    survey = servqual(company, audience=[company.hr, company.finance, legal])
    hr_people = respondents(company.hr, 6, "hr")
    fin_people = respondents(company.finance, 5, "fin")
    legal_people = respondents(legal, 2, "leg")
    # HR: expectation 6, perception 4 everywhere except tangibles (5 → 7).
    answer_all(survey, hr_people, servqual_answers(6, 4, tangibles=(5, 7)))
    answer_all(survey, fin_people, servqual_answers(6, 4, tangibles=(5, 7)))
    answer_all(survey, legal_people, servqual_answers(6, 4, tangibles=(5, 7)))
    client.force_login(company.it_head)
    page = html(client.get(f"/surveys/{survey.pk}/results/", **EN))
    assert '<dd class="respondents">13</dd>' in page
    # The gap chart: one bar per dimension, negative and positive.
    assert 'class="chart gap-chart"' in page
    assert 'data-gap="2.00"' in page and 'data-gap="-2.00"' in page
    row = re.search(r'<tr data-dimension="tangibles">(.*?)</tr>', page, re.S).group(1)
    assert ">5.00<" in row and ">7.00<" in row and "+2.00" in row
    row = re.search(r'<tr data-dimension="reliability">(.*?)</tr>', page, re.S).group(1)
    assert ">6.00<" in row and ">4.00<" in row and "−2.00" in row
    # Every statement in the item table, in the reader's language.
    assert "It gets the service right the first time." in page
    # Legal (2 respondents) shows only its count; no scores for it.
    breakdown = page.split("By consumer department", 1)[1]
    legal_row = re.search(r"<th scope=\"row\">法务部</th>(.*?)</tr>", breakdown, re.S).group(1)
    assert "<td>2</td>" in legal_row
    assert "Too few respondents to show" in legal_row
    assert "2.00" not in legal_row
    hr_row = re.search(r"<th scope=\"row\">人力资源部</th>(.*?)</tr>", breakdown, re.S).group(1)
    assert "<td>6</td>" in hr_row and "+2.00" in hr_row


def test_results_of_fewer_than_five_respondents_show_only_the_count(client, company):
    survey = servqual(company)
    answer_all(survey, respondents(company.hr, 4, "few"), servqual_answers(7, 1))
    client.force_login(company.it_head)
    page = html(client.get(f"/surveys/{survey.pk}/results/", **EN))
    assert '<dd class="respondents">4</dd>' in page
    assert "Too few respondents to show" in page
    assert "gap-chart" not in page.replace("gap-chart-box", "")
    for score in ("7.00", "1.00", "6.00", "−6.00"):
        assert score not in page
    assert "Expectation" not in page


def test_servqual_results_compare_with_the_previous_campaign(client, company):
    before = servqual(company, title="Q4", days=7)
    answer_all(before, respondents(company.hr, 5, "q4_"), servqual_answers(6, 4))
    surveys.close_survey(survey_id=before.pk)
    now = servqual(company, title="Q1", days=20)
    answer_all(now, respondents(company.hr, 5, "q1_"), servqual_answers(6, 5))
    client.force_login(company.it_head)
    page = html(client.get(f"/surveys/{now.pk}/results/", **EN))
    assert "Previous campaign" in page
    row = re.search(r'<tr data-dimension="empathy">(.*?)</tr>', page, re.S).group(1)
    # Gap −1 now, −2 before: change +1.
    assert "−1.00" in row and "−2.00" in row and "+1.00" in row


def test_kano_results_table_counts_categories_and_coefficients(client, company):
    survey = kano(company)
    people = respondents(company.hr, 5, "k")
    pairs = [("like", "dislike")] * 3 + [("like", "neutral")] * 2  # O O O A A
    for user, (functional, dysfunctional) in zip(people, pairs, strict=True):
        surveys.submit_response(
            user=user,
            survey=survey,
            answers=[
                {"item": "self_reset", "functional": functional, "dysfunctional": dysfunctional}
            ],
        )
    client.force_login(company.it_head)
    page = html(client.get(f"/surveys/{survey.pk}/results/", **EN))
    row = re.search(r"Self-service password reset</th>(.*?)</tr>", page, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    # A, O, M, I, R, Q, category, better, worse
    assert cells[:6] == ["2", "3", "0", "0", "0", "0"]
    assert cells[6].lower() == "one-dimensional"
    assert cells[7] == "1.00"  # (2 + 3) / 5
    assert cells[8] == "-0.60"  # −(3 + 0) / 5


# -- Query counts ----------------------------------------------------------------------------------


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_list_and_results_query_counts_do_not_grow_with_responses(
    client, company, django_assert_max_num_queries
):
    survey = servqual(company)
    other = servqual(company, title="Second")
    answer_all(survey, respondents(company.hr, 5, "a"), servqual_answers(5, 4))
    client.force_login(company.it_head)
    list_small = _queries(client, "/surveys/")
    results_small = _queries(client, f"/surveys/{survey.pk}/results/")
    answer_all(survey, respondents(company.hr, 10, "b"), servqual_answers(6, 4))
    answer_all(other, respondents(company.hr, 7, "c"), servqual_answers(6, 4))
    assert _queries(client, "/surveys/") == list_small
    assert _queries(client, f"/surveys/{survey.pk}/results/") == results_small
    with django_assert_max_num_queries(12):
        client.get("/surveys/")
    with django_assert_max_num_queries(14):
        client.get(f"/surveys/{survey.pk}/results/")


def test_employee_list_query_count_does_not_grow_with_campaigns(client, company):
    client.force_login(company.requester)
    servqual(company, title="one")
    answered = servqual(company, title="answered")
    surveys.submit_response(user=company.requester, survey=answered, answers=servqual_answers(5, 5))
    small = _queries(client, "/surveys/")
    for n in range(4):
        survey = servqual(company, title=f"more {n}")
        if n % 2:
            surveys.submit_response(
                user=company.requester, survey=survey, answers=servqual_answers(5, 5)
            )
    assert _queries(client, "/surveys/") == small


# -- The heads' dashboard panel --------------------------------------------------------------------


def test_dashboard_shows_the_latest_closed_servqual_gap_with_a_link(client, company):
    survey = servqual(company, title="Last quarter")
    answer_all(survey, respondents(company.hr, 5, "d"), servqual_answers(6, 3))
    surveys.close_survey(survey_id=survey.pk)
    client.force_login(company.it_head)
    page = html(client.get("/dashboard/", **EN))
    panel = page.split('id="servqual-panel-h"', 1)[1]
    assert "Last quarter" in panel
    assert "gap-chart" in panel
    assert "−3.00" in panel
    assert f'href="/surveys/{survey.pk}/results/"' in panel


def test_dashboard_panel_without_a_closed_campaign(client, company):
    client.force_login(company.it_head)
    page = html(client.get("/dashboard/", **EN))
    assert "No SERVQUAL campaign of this department has closed yet." in page


# -- Admin -----------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/admin/feedback/survey/",
        "/admin/feedback/survey/add/",
        "/admin/feedback/suggestion/",
        "/admin/feedback/kudos/",
        "/admin/feedback/improvementaction/",
        "/admin/feedback/improvementaction/add/",
        "/admin/feedback/ticketrating/",
        "/admin/feedback/outboundemail/",
    ],
)
def test_feedback_admin_pages_load(admin_client, company, url):
    assert admin_client.get(url).status_code == 200


def test_admin_survey_shows_counts_not_answers(admin_client, company):
    survey = servqual(company)
    answer_all(survey, respondents(company.hr, 2, "adm"), servqual_answers(7, 2))
    page = html(admin_client.get(f"/admin/feedback/survey/{survey.pk}/change/", **EN))
    assert "respondents" in page.lower()
    assert "adm0" not in page and "adm1" not in page
    listing = html(admin_client.get("/admin/feedback/survey/", **EN))
    assert re.search(r'class="field-respondent_count">2<', listing)
    assert admin_client.get("/admin/feedback/surveyresponse/").status_code == 404


def test_admin_never_shows_an_author_for_anonymous_suggestions(admin_client, company):
    anonymous = Suggestion.objects.create(
        department=company.it,
        title="匿名建议",
        body="...",
        anonymous=True,
        created_on=timezone.localdate(),
    )
    named = Suggestion.objects.create(
        department=company.it,
        title="署名建议",
        body="...",
        author=company.requester,
        created_on=timezone.localdate(),
    )
    page = html(admin_client.get(f"/admin/feedback/suggestion/{anonymous.pk}/change/", **EN))
    assert "anonymous" in page
    assert 'name="author"' not in page
    page = html(admin_client.get(f"/admin/feedback/suggestion/{named.pk}/change/", **EN))
    assert str(company.requester) in page
    assert admin_client.post(f"/admin/feedback/suggestion/{named.pk}/change/", {}).status_code in (
        403,
        302,
        200,
    )
    named.refresh_from_db()
    assert named.author == company.requester


def test_admin_servqual_campaign_without_items_gets_the_standard_questionnaire(
    admin_client, company
):
    response = admin_client.post(
        "/admin/feedback/survey/add/",
        {
            "kind": "servqual",
            "title": "Admin-made",
            "provider_department": company.it.pk,
            "audience_departments": [company.hr.pk],
            "opens_at_0": "2030-01-05",
            "opens_at_1": "09:00:00",
            "closes_at_0": "2030-01-20",
            "closes_at_1": "18:00:00",
            "items-TOTAL_FORMS": "0",
            "items-INITIAL_FORMS": "0",
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    survey = Survey.objects.get(title="Admin-made")
    assert survey.state == Survey.State.SCHEDULED
    assert sorted(survey.items.values_list("key", flat=True)) == sorted(
        item.key for item in DEFAULT_SERVQUAL_ITEMS
    )
