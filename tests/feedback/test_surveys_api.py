"""Survey campaigns through the REST API (DESIGN §2 "Feedback", §3 `surveys/...`): creating,
answering once, anonymised results with hand-computed figures, and who may do what."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from departments.models import Membership
from feedback import surveys
from feedback.models import Survey, SurveyInvitation, SurveyResponse
from feedback.survey_selectors import suppress_groups
from tests.factories import DepartmentFactory, UserFactory, make_member
from tests.feedback.survey_helpers import (
    KANO_FEATURES,
    SMALL_SERVQUAL,
    answer_all,
    make_survey,
    open_now,
    people,
    servqual_answers,
)

pytestmark = pytest.mark.django_db


def iso(moment) -> str:
    return moment.isoformat()


@pytest.fixture
def staff(db):
    return UserFactory(username="admin1", is_staff=True)


@pytest.fixture
def outsider(db):
    """An employee of a department that is neither the provider nor in the audience."""
    return UserFactory(username="outsider", department=DepartmentFactory(code="LEG"))


@pytest.fixture
def body(company):
    now = timezone.now()
    return {
        "kind": "servqual",
        "title": "2026 Q1 IT 服务质量",
        "provider_department": company.it.pk,
        "audience_departments": [company.hr.pk, company.finance.pk],
        "opens_at": iso(now + timedelta(days=1)),
        "closes_at": iso(now + timedelta(days=15)),
    }


@pytest.fixture
def respondents(company):
    """Five HR and five Finance employees (home departments), the fixture's people first."""
    hr = [company.requester, company.other_employee, company.hr_head, *people(company.hr, 2, "h")]
    fin = [company.finance_agent, *people(company.finance, 4, "f")]
    return hr, fin


@pytest.fixture
def small_servqual(company):
    return open_now(
        make_survey(
            company.it_head,
            provider=company.it,
            audience=[company.hr, company.finance],
            items=SMALL_SERVQUAL,
        )
    )


# -- Creating ----------------------------------------------------------------------------------


def test_head_creates_a_servqual_campaign_with_the_default_22_item_questionnaire(
    api, company, body
):
    response = api(company.it_head).post("/api/v1/surveys/", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["state"] == "scheduled"
    assert data["opened_at"] is None and data["closed_at"] is None
    assert data["provider_department"] == company.it.pk
    assert sorted(data["audience_departments"]) == sorted([company.hr.pk, company.finance.pk])
    # SERVQUAL's 22 statements: 4 tangibles, 5 reliability, 4 responsiveness, 4 assurance,
    # 5 empathy, each with its standard wording.
    keys = [item["key"] for item in data["items"]]
    assert keys == (
        [f"tangibles_{n}" for n in range(1, 5)]
        + [f"reliability_{n}" for n in range(1, 6)]
        + [f"responsiveness_{n}" for n in range(1, 5)]
        + [f"assurance_{n}" for n in range(1, 5)]
        + [f"empathy_{n}" for n in range(1, 6)]
    )
    assert all(item["text"] for item in data["items"])
    assert {item["dimension"] for item in data["items"]} == {
        "tangibles",
        "reliability",
        "responsiveness",
        "assurance",
        "empathy",
    }


def test_admin_creates_a_campaign_for_any_department(api, staff, body):
    assert api(staff).post("/api/v1/surveys/", body, format="json").status_code == 201


@pytest.mark.parametrize("who", ["agent", "hr_head", "requester"])
def test_only_heads_of_the_provider_or_admins_create_campaigns(api, company, body, who):
    response = api(getattr(company, who)).post("/api/v1/surveys/", body, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not Survey.objects.exists()


def test_kano_campaign_keeps_its_features_and_asks_the_two_standard_questions(api, company, body):
    body.update(kind="kano", items=KANO_FEATURES)
    response = api(company.it_head).post("/api/v1/surveys/", body, format="json")
    assert response.status_code == 201, response.content
    items = response.json()["items"]
    assert [item["key"] for item in items] == ["f1", "f2"]
    assert items[0]["feature"] == "Status updates by chat message"
    assert "Status updates by chat message" in items[0]["functional"]
    assert "Status updates by chat message" in items[0]["dysfunctional"]
    assert items[0]["functional"] != items[0]["dysfunctional"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "kano"}, "items"),  # KANO has no default questionnaire
        ({"kind": "nps"}, "kind"),
        ({"items": [{"key": "x", "dimension": "price", "text": "Cheap"}]}, "items[0].dimension"),
        ({"items": [{"key": "x", "dimension": "empathy"}]}, "items[0].text"),
        (
            {
                "items": [
                    {"key": "x", "dimension": "empathy", "text": "a"},
                    {"key": "x", "dimension": "empathy", "text": "b"},
                ]
            },
            "items[1].key",
        ),
        (
            {"kind": "kano", "items": [{"key": "f1", "feature": "A"}, {"key": "f2"}]},
            "items[1].feature",
        ),
        ({"audience_departments": []}, "audience_departments"),
        ({"closes_at": "OPENS"}, "closes_at"),  # closes at its opening time
        ({"remind_at": "LATE"}, "remind_at"),  # after closing
        ({"repeat_months": 0}, "repeat_months"),
        ({"title": ""}, "title"),
    ],
)
def test_create_refuses_bad_input_naming_the_field(api, company, body, change, field):
    if change.get("closes_at") == "OPENS":
        change = {"closes_at": body["opens_at"]}
    if change.get("remind_at") == "LATE":
        change = {"remind_at": iso(timezone.now() + timedelta(days=30))}
    response = api(company.it_head).post("/api/v1/surveys/", {**body, **change}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] == "invalid"
    assert field in error["fields"], error
    assert error["detail"].startswith(field)
    assert not Survey.objects.exists()


def test_partial_update_while_scheduled_then_refused_once_open(api, company, body):
    client = api(company.it_head)
    survey_id = client.post("/api/v1/surveys/", body, format="json").json()["id"]
    response = client.patch(
        f"/api/v1/surveys/{survey_id}/",
        {"title": "改名", "audience_departments": [company.hr.pk], "remind_at": None},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "改名"
    assert response.json()["audience_departments"] == [company.hr.pk]
    assert len(response.json()["items"]) == 22  # items untouched

    assert client.post(f"/api/v1/surveys/{survey_id}/open/").status_code == 200
    response = client.patch(f"/api/v1/surveys/{survey_id}/", {"title": "x"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "survey_not_scheduled"


# -- Answering ---------------------------------------------------------------------------------


def test_audience_member_answers_once_then_gets_a_clear_409(api, company, small_servqual):
    client = api(company.requester)
    url = f"/api/v1/surveys/{small_servqual.pk}/responses/"
    answers = servqual_answers(small_servqual, {"*": (6, 5)})
    response = client.post(url, {"answers": answers}, format="json")
    assert response.status_code == 201, response.content
    assert response.json() == {"survey": small_servqual.pk, "answers": 6}

    again = client.post(url, {"answers": answers}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert again.status_code == 409
    assert again.json()["code"] == "already_answered"
    assert "already answered" in again.json()["detail"]
    assert SurveyResponse.objects.filter(survey=small_servqual).count() == 1
    # The caller's list shows it answered.
    listed = client.get(f"/api/v1/surveys/{small_servqual.pk}/").json()
    assert listed["answered"] is True


def test_the_stored_response_carries_no_trace_of_the_respondent(api, company, small_servqual):
    url = f"/api/v1/surveys/{small_servqual.pk}/responses/"
    answers = servqual_answers(small_servqual, {"*": (6, 5)})
    api(company.requester).post(url, {"answers": answers}, format="json")
    response = SurveyResponse.objects.get(survey=small_servqual)
    assert response.consumer_department_id == company.hr.pk
    assert {field.name for field in SurveyResponse._meta.concrete_fields} == {
        "id",
        "survey",
        "consumer_department",
    }


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda answers: answers[1:], "answers"),  # an item left out
        (lambda answers: [{**answers[0], "perception": 8}, *answers[1:]], "answers[0].perception"),
        (
            lambda answers: [{**answers[0], "expectation": 0}, *answers[1:]],
            "answers[0].expectation",
        ),
        (lambda answers: [*answers[:-1], {**answers[-1], "item": "zz"}], "answers[5].item"),
        (lambda answers: [*answers, answers[0]], "answers[6].item"),  # answered twice
        (lambda answers: [], "answers"),
    ],
)
def test_bad_answers_are_refused_naming_the_answer_and_nothing_is_recorded(
    api, company, small_servqual, mutate, field
):
    answers = mutate(servqual_answers(small_servqual, {"*": (6, 5)}))
    response = api(company.requester).post(
        f"/api/v1/surveys/{small_servqual.pk}/responses/", {"answers": answers}, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"], response.json()
    assert not SurveyResponse.objects.exists()
    assert not SurveyInvitation.objects.exclude(responded_at=None).exists()
    # And the person may still answer properly.
    good = servqual_answers(small_servqual, {"*": (6, 5)})
    response = api(company.requester).post(
        f"/api/v1/surveys/{small_servqual.pk}/responses/", {"answers": good}, format="json"
    )
    assert response.status_code == 201


def test_kano_answers_must_be_one_of_the_five_options(api, company):
    survey = open_now(
        make_survey(
            company.it_head,
            provider=company.it,
            audience=[company.hr],
            kind="kano",
            items=KANO_FEATURES,
        )
    )
    answers = [
        {"item": "f1", "functional": "like", "dysfunctional": "hate"},
        {"item": "f2", "functional": "neutral", "dysfunctional": "dislike"},
    ]
    response = api(company.requester).post(
        f"/api/v1/surveys/{survey.pk}/responses/", {"answers": answers}, format="json"
    )
    assert response.status_code == 400
    assert "answers[0].dysfunctional" in response.json()["fields"]


def test_closed_and_scheduled_campaigns_refuse_answers(api, company):
    scheduled = make_survey(
        company.it_head, provider=company.it, audience=[company.hr], items=SMALL_SERVQUAL
    )
    answers = servqual_answers(scheduled, {"*": (6, 5)})
    client = api(company.requester)
    response = client.post(
        f"/api/v1/surveys/{scheduled.pk}/responses/", {"answers": answers}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "survey_not_open"

    open_now(scheduled)
    surveys.close_survey(survey_id=scheduled.pk)
    response = client.post(
        f"/api/v1/surveys/{scheduled.pk}/responses/",
        {"answers": answers},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "survey_not_open"
    assert "closed" in response.json()["detail"]
    assert not SurveyResponse.objects.exists()


def test_a_campaign_past_its_closing_time_refuses_answers_before_the_beat_closes_it(
    api, company, small_servqual
):
    Survey.objects.filter(pk=small_servqual.pk).update(
        opens_at=timezone.now() - timedelta(days=2), closes_at=timezone.now() - timedelta(seconds=1)
    )
    response = api(company.requester).post(
        f"/api/v1/surveys/{small_servqual.pk}/responses/",
        {"answers": servqual_answers(small_servqual, {"*": (6, 5)})},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "survey_not_open"


def test_not_in_the_audience_is_404_and_a_manager_outside_it_403(
    api, company, outsider, small_servqual
):
    url = f"/api/v1/surveys/{small_servqual.pk}/responses/"
    answers = {"answers": servqual_answers(small_servqual, {"*": (6, 5)})}
    assert api(outsider).post(url, answers, format="json").status_code == 404
    assert api(company.agent).post(url, answers, format="json").status_code == 404
    assert api(outsider).get(f"/api/v1/surveys/{small_servqual.pk}/").status_code == 404
    response = api(company.it_head).post(url, answers, format="json")  # manages; IT not asked
    assert response.status_code == 403
    assert not SurveyResponse.objects.exists()


def test_someone_who_joins_an_audience_department_after_opening_may_answer(
    api, company, small_servqual
):
    newcomer = UserFactory(username="newcomer", department=company.hr)
    assert not SurveyInvitation.objects.filter(user=newcomer).exists()
    response = api(newcomer).post(
        f"/api/v1/surveys/{small_servqual.pk}/responses/",
        {"answers": servqual_answers(small_servqual, {"*": (6, 5)})},
        format="json",
    )
    assert response.status_code == 201


# -- Results -----------------------------------------------------------------------------------


def _by_dimension(rows: list[dict]) -> dict[str, dict]:
    return {row["dimension"]: row for row in rows}


def test_servqual_results_by_dimension_item_and_consumer_department(
    api, company, respondents, small_servqual
):
    hr, fin = respondents
    # HR: every item but r2 answered (6,4), (6,5), (7,5), (5,5), (6,6): ΣE = 30, ΣP = 25;
    # r2 answered (7,3) by all five: ΣE = 35, ΣP = 15.
    for person, (e, p) in zip(hr, [(6, 4), (6, 5), (7, 5), (5, 5), (6, 6)], strict=True):
        answer_all(small_servqual, [person], {"*": (e, p), "r2": (7, 3)})
    # Finance: every item but r2 (5,5), (5,6), (6,6), (4,5), (5,6): ΣE = 25, ΣP = 28;
    # r2 answered (6,6) by all five: ΣE = 30, ΣP = 30.
    for person, (e, p) in zip(fin, [(5, 5), (5, 6), (6, 6), (4, 5), (5, 6)], strict=True):
        answer_all(small_servqual, [person], {"*": (e, p), "r2": (6, 6)})

    response = api(company.it_head).get(f"/api/v1/surveys/{small_servqual.pk}/results/")
    assert response.status_code == 200, response.content
    results = response.json()
    assert results["respondents"] == 10
    assert results["suppressed"] is False
    assert results["previous"] is None

    dimensions = _by_dimension(results["dimensions"])
    assert list(dimensions) == [
        "tangibles",
        "reliability",
        "responsiveness",
        "assurance",
        "empathy",
    ]
    # tangibles (t1 only): E = (30+25)/10 = 5.5; P = (25+28)/10 = 5.3; gap = −0.2
    assert dimensions["tangibles"]["expectation"] == pytest.approx(5.5)
    assert dimensions["tangibles"]["perception"] == pytest.approx(5.3)
    assert dimensions["tangibles"]["gap"] == pytest.approx(-0.2)
    # reliability (r1 and r2, 20 answers): E = (30+35+25+30)/20 = 6.0;
    # P = (25+15+28+30)/20 = 4.9; gap = −1.1
    assert dimensions["reliability"]["expectation"] == pytest.approx(6.0)
    assert dimensions["reliability"]["perception"] == pytest.approx(4.9)
    assert dimensions["reliability"]["gap"] == pytest.approx(-1.1)
    for other in ("responsiveness", "assurance", "empathy"):  # like tangibles
        assert dimensions[other]["gap"] == pytest.approx(-0.2)
    assert dimensions["reliability"]["previous_gap"] is None
    assert dimensions["reliability"]["change"] is None

    items = {row["item"]: row for row in results["items"]}
    assert list(items) == ["t1", "r1", "r2", "s1", "a1", "e1"]
    # r2: E = (35+30)/10 = 6.5; P = (15+30)/10 = 4.5; gap = −2.0
    assert (items["r2"]["expectation"], items["r2"]["perception"]) == (6.5, 4.5)
    assert items["r2"]["gap"] == pytest.approx(-2.0)
    assert items["r1"]["gap"] == pytest.approx(-0.2)
    assert items["r2"]["text"] == "It is right the first time."

    groups = {row["department"]: row for row in results["by_consumer_department"]}
    assert set(groups) == {company.hr.pk, company.finance.pk}
    assert groups[company.hr.pk]["respondents"] == 5
    assert groups[company.hr.pk]["suppressed"] is False
    assert groups[company.hr.pk]["department_name"] == company.hr.name
    hr_dims = _by_dimension(groups[company.hr.pk]["dimensions"])
    # HR tangibles: 30/5 = 6, 25/5 = 5, gap −1; reliability: (30+35)/10 = 6.5,
    # (25+15)/10 = 4.0, gap −2.5
    assert (hr_dims["tangibles"]["expectation"], hr_dims["tangibles"]["perception"]) == (6, 5)
    assert hr_dims["tangibles"]["gap"] == pytest.approx(-1)
    assert hr_dims["reliability"]["gap"] == pytest.approx(-2.5)
    fin_dims = _by_dimension(groups[company.finance.pk]["dimensions"])
    # Finance tangibles: 25/5 = 5, 28/5 = 5.6, gap +0.6; reliability: (25+30)/10 = 5.5,
    # (28+30)/10 = 5.8, gap +0.3
    assert fin_dims["tangibles"]["gap"] == pytest.approx(0.6)
    assert fin_dims["reliability"]["expectation"] == pytest.approx(5.5)
    assert fin_dims["reliability"]["perception"] == pytest.approx(5.8)
    assert fin_dims["reliability"]["gap"] == pytest.approx(0.3)


def test_results_of_fewer_than_five_respondents_show_only_the_count(
    api, company, respondents, small_servqual
):
    hr, fin = respondents
    answer_all(small_servqual, hr[:3] + fin[:1], {"*": (6, 4)})
    results = api(company.it_head).get(f"/api/v1/surveys/{small_servqual.pk}/results/").json()
    assert results["respondents"] == 4
    assert results["suppressed"] is True
    assert "dimensions" not in results and "items" not in results
    groups = {row["department"]: row for row in results["by_consumer_department"]}
    assert groups[company.hr.pk] == {
        "department": company.hr.pk,
        "department_name": company.hr.name,
        "respondents": 3,
        "suppressed": True,
    }
    assert groups[company.finance.pk]["respondents"] == 1
    assert "gap" not in json.dumps(results)


def test_a_consumer_department_under_five_is_suppressed_and_cannot_be_worked_out(
    api, company, respondents
):
    legal = DepartmentFactory(name="法务部", code="LAW")
    hr, fin = respondents
    survey = open_now(
        make_survey(
            company.it_head,
            provider=company.it,
            audience=[company.hr, company.finance, legal],
            items=SMALL_SERVQUAL,
        )
    )
    hr_six = [*hr, *people(company.hr, 1, "hx")]
    answer_all(survey, hr_six, {"*": (6, 5)})
    answer_all(survey, people(legal, 5, "l"), {"*": (5, 5)})
    answer_all(survey, fin[:2], {"*": (7, 1)})
    results = api(company.it_head).get(f"/api/v1/surveys/{survey.pk}/results/").json()
    assert results["respondents"] == 13
    assert results["suppressed"] is False
    groups = {row["department"]: row for row in results["by_consumer_department"]}
    assert groups[company.finance.pk]["respondents"] == 2
    assert groups[company.finance.pk]["suppressed"] is True
    assert "dimensions" not in groups[company.finance.pk]
    # Showing the whole campaign and both other groups would give Finance's two answers away
    # by subtraction, so the smallest other group (Legal, 5) is withheld too.
    assert groups[legal.pk]["suppressed"] is True
    assert "dimensions" not in groups[legal.pk]
    assert groups[company.hr.pk]["suppressed"] is False
    assert _by_dimension(groups[company.hr.pk]["dimensions"])["empathy"]["gap"] == -1


def test_complementary_suppression_rule():
    groups = suppress_groups(
        [
            {"department": 1, "respondents": 9},
            {"department": 2, "respondents": 6},
            {"department": 3, "respondents": 1},
        ]
    )
    assert [g["suppressed"] for g in groups] == [False, True, True]
    groups = suppress_groups(
        [{"department": 1, "respondents": 5}, {"department": 2, "respondents": 5}]
    )
    assert [g["suppressed"] for g in groups] == [False, False]
    groups = suppress_groups(
        [
            {"department": 1, "respondents": 8},
            {"department": 2, "respondents": 3},
            {"department": 3, "respondents": 2},
        ]
    )
    assert [g["suppressed"] for g in groups] == [False, True, True]  # 3 + 2 hidden together


def test_servqual_results_show_the_change_since_the_previous_campaign(api, company, respondents):
    hr, fin = respondents
    now = timezone.now()
    earlier = open_now(
        make_survey(
            company.it_head,
            provider=company.it,
            audience=[company.hr, company.finance],
            items=SMALL_SERVQUAL,
            closes_at=now + timedelta(days=3),
            title="上一次",
        )
    )
    # Previous campaign: five answers of (6,4) everywhere: every dimension's gap is −2.
    answer_all(earlier, hr, {"*": (6, 4)})
    surveys.close_survey(survey_id=earlier.pk)
    # A KANO campaign of IT and another department's SERVQUAL are not "the previous one".
    other_provider = open_now(
        make_survey(
            staff_user := UserFactory(is_staff=True),
            provider=company.finance,
            audience=[company.hr],
            items=SMALL_SERVQUAL,
            closes_at=now + timedelta(days=4),
        )
    )
    answer_all(other_provider, hr, {"*": (1, 7)})
    surveys.close_survey(survey_id=other_provider.pk)
    assert staff_user.is_staff

    current = open_now(
        make_survey(
            company.it_head,
            provider=company.it,
            audience=[company.hr, company.finance],
            items=SMALL_SERVQUAL,
            closes_at=now + timedelta(days=10),
        )
    )
    # Now: tangibles (5,5)·5 → gap 0; reliability r1 (5,5), r2 (7,4) → E = (25+35)/10 = 6,
    # P = (25+20)/10 = 4.5, gap −1.5.
    answer_all(current, fin, {"*": (5, 5), "r2": (7, 4)})
    results = api(company.it_head).get(f"/api/v1/surveys/{current.pk}/results/").json()
    assert results["previous"] == {"survey": earlier.pk, "title": "上一次", "suppressed": False}
    dimensions = _by_dimension(results["dimensions"])
    assert dimensions["tangibles"]["previous_gap"] == pytest.approx(-2)
    assert dimensions["tangibles"]["change"] == pytest.approx(2)  # 0 − (−2)
    assert dimensions["reliability"]["gap"] == pytest.approx(-1.5)
    assert dimensions["reliability"]["change"] == pytest.approx(0.5)  # −1.5 − (−2)


def test_no_change_is_shown_against_a_suppressed_previous_campaign(api, company, respondents):
    hr, fin = respondents
    now = timezone.now()
    earlier = open_now(
        make_survey(
            company.it_head,
            provider=company.it,
            audience=[company.hr],
            items=SMALL_SERVQUAL,
            closes_at=now + timedelta(days=3),
        )
    )
    answer_all(earlier, hr[:4], {"*": (6, 4)})  # only four: suppressed
    surveys.close_survey(survey_id=earlier.pk)
    current = open_now(
        make_survey(
            company.it_head,
            provider=company.it,
            audience=[company.finance],
            items=SMALL_SERVQUAL,
            closes_at=now + timedelta(days=9),
        )
    )
    answer_all(current, fin, {"*": (5, 5)})
    results = api(company.it_head).get(f"/api/v1/surveys/{current.pk}/results/").json()
    assert results["previous"]["suppressed"] is True
    for row in results["dimensions"]:
        assert row["previous_gap"] is None and row["change"] is None


def test_kano_results_per_feature_with_category_and_coefficients(api, company, respondents):
    hr, _fin = respondents
    survey = open_now(
        make_survey(
            company.it_head,
            provider=company.it,
            audience=[company.hr],
            kind="kano",
            items=KANO_FEATURES,
        )
    )
    f1 = [
        ("like", "dislike"),  # O
        ("like", "dislike"),  # O
        ("like", "neutral"),  # A
        ("like", "live_with"),  # A
        ("must_be", "dislike"),  # M
    ]
    f2 = [
        ("neutral", "neutral"),  # I
        ("live_with", "must_be"),  # I
        ("must_be", "neutral"),  # I
        ("dislike", "like"),  # R
        ("like", "like"),  # Q
    ]
    for person, first, second in zip(hr, f1, f2, strict=True):
        surveys.submit_response(
            user=person,
            survey=survey,
            answers=[
                {"item": "f1", "functional": first[0], "dysfunctional": first[1]},
                {"item": "f2", "functional": second[0], "dysfunctional": second[1]},
            ],
        )
    results = api(company.it_head).get(f"/api/v1/surveys/{survey.pk}/results/").json()
    assert results["respondents"] == 5
    items = {row["item"]: row for row in results["items"]}
    # f1: A 2, O 2, M 1 → A and O tie, O ranks first; base 5:
    # better = (2+2)/5 = 0.8, worse = −(2+1)/5 = −0.6
    assert items["f1"]["counts"] == {"A": 2, "O": 2, "M": 1, "I": 0, "R": 0, "Q": 0}
    assert items["f1"]["category"] == "O"
    assert items["f1"]["better"] == pytest.approx(0.8)
    assert items["f1"]["worse"] == pytest.approx(-0.6)
    # f2: I 3, R 1, Q 1 → indifferent; base 3: better = 0/3 = 0, worse = −0/3 = 0
    assert items["f2"]["counts"] == {"A": 0, "O": 0, "M": 0, "I": 3, "R": 1, "Q": 1}
    assert items["f2"]["category"] == "I"
    assert items["f2"]["better"] == 0 and items["f2"]["worse"] == 0
    assert items["f2"]["feature"] == "A printed monthly report"
    [group] = results["by_consumer_department"]
    assert group["department"] == company.hr.pk and group["suppressed"] is False
    assert {row["item"]: row["category"] for row in group["items"]} == {"f1": "O", "f2": "I"}


# -- Permissions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("it_head", 200),  # head of the provider
        ("staff", 200),  # admin
        ("agent", 404),  # provider's agent: neither manages nor is asked
        ("requester", 403),  # asked to answer, may not read results
        ("hr_head", 403),  # head of a consumer department
        ("outsider", 404),
        ("anonymous", 401),
    ],
)
def test_who_reads_results(api, company, staff, outsider, small_servqual, who, expected):
    user = {"staff": staff, "outsider": outsider, "anonymous": None}.get(who) or getattr(
        company, who, None
    )
    response = api(user).get(f"/api/v1/surveys/{small_servqual.pk}/results/")
    assert response.status_code == expected, response.content


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("it_head", 200),
        ("staff", 200),
        ("agent", 404),
        ("requester", 403),
        ("hr_head", 403),
        ("outsider", 404),
    ],
)
def test_who_opens_and_closes_by_hand(api, company, staff, outsider, who, expected):
    user = {"staff": staff, "outsider": outsider}.get(who) or getattr(company, who)
    survey = make_survey(company.it_head, provider=company.it, audience=[company.hr])
    # While scheduled, the audience does not see the campaign yet.
    opened = api(user).post(f"/api/v1/surveys/{survey.pk}/open/")
    assert opened.status_code == (404 if who in ("requester", "hr_head") else expected)
    open_now(survey)
    closed = api(user).post(f"/api/v1/surveys/{survey.pk}/close/")
    assert closed.status_code == expected
    survey.refresh_from_db()
    assert survey.state == ("closed" if expected == 200 else "open")


def test_opening_by_hand_invites_the_audience_and_a_second_open_or_close_is_409(api, company):
    survey = make_survey(company.it_head, provider=company.it, audience=[company.hr])
    client = api(company.it_head)
    response = client.post(f"/api/v1/surveys/{survey.pk}/open/")
    assert response.status_code == 200
    assert response.json()["state"] == "open"
    assert set(SurveyInvitation.objects.filter(survey=survey).values_list("user", flat=True)) == {
        company.requester.pk,
        company.other_employee.pk,
        company.hr_head.pk,
    }
    again = client.post(f"/api/v1/surveys/{survey.pk}/open/")
    assert again.status_code == 409 and again.json()["code"] == "survey_not_scheduled"
    assert client.post(f"/api/v1/surveys/{survey.pk}/close/").json()["state"] == "closed"
    again = client.post(f"/api/v1/surveys/{survey.pk}/close/")
    assert again.status_code == 409 and again.json()["code"] == "survey_closed"


def test_audience_sees_open_campaigns_and_managers_see_their_own(api, company, outsider):
    open_one = open_now(make_survey(company.it_head, provider=company.it, audience=[company.hr]))
    scheduled = make_survey(company.it_head, provider=company.it, audience=[company.hr])
    fin_head = make_member(company.finance, Membership.Role.HEAD, username="finhead")
    theirs = make_survey(fin_head, provider=company.finance, audience=[company.finance])

    def ids(user):
        response = api(user).get("/api/v1/surveys/")
        assert response.status_code == 200
        return {row["id"] for row in response.json()["results"]}

    assert ids(company.requester) == {open_one.pk}
    assert ids(company.it_head) == {open_one.pk, scheduled.pk}
    assert ids(fin_head) == {theirs.pk}
    assert ids(outsider) == set()


# -- Query counts ------------------------------------------------------------------------------


def _results_queries(api, company, survey) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(company.it_head)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/api/v1/surveys/{survey.pk}/results/")
    assert response.status_code == 200
    return len(captured)


def test_results_take_a_fixed_number_of_queries_whatever_the_respondents(
    api, company, respondents, small_servqual, django_assert_max_num_queries
):
    hr, fin = respondents
    answer_all(small_servqual, hr, {"*": (6, 4)})
    few = _results_queries(api, company, small_servqual)
    answer_all(small_servqual, fin + people(company.hr, 10, "m"), {"*": (5, 5)})
    many = _results_queries(api, company, small_servqual)
    assert few == many
    # roles, the survey, respondents per department, previous campaign, items, answer sums
    with django_assert_max_num_queries(6):
        api(company.it_head).get(f"/api/v1/surveys/{small_servqual.pk}/results/")


def test_survey_list_takes_a_fixed_number_of_queries(api, company, django_assert_max_num_queries):
    for _ in range(3):
        make_survey(company.it_head, provider=company.it, audience=[company.hr, company.finance])
    client = api(company.it_head)
    # roles, answered ids, count, page, audiences, items
    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/surveys/")
    assert response.json()["count"] == 3
    for _ in range(7):
        make_survey(company.it_head, provider=company.it, audience=[company.hr, company.finance])
    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/surveys/")
    assert len(response.json()["results"]) == 10


def test_every_survey_endpoint_is_in_the_schema_with_its_errors(api, company):
    schema = api(company.requester).get("/api/schema/?format=json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/surveys/",
        "/api/v1/surveys/{id}/",
        "/api/v1/surveys/{id}/open/",
        "/api/v1/surveys/{id}/close/",
        "/api/v1/surveys/{id}/responses/",
        "/api/v1/surveys/{id}/results/",
    ):
        assert path in paths, path
    assert "409" in paths["/api/v1/surveys/{id}/responses/"]["post"]["responses"]
    assert "409" in paths["/api/v1/surveys/{id}/open/"]["post"]["responses"]
    assert "404" in paths["/api/v1/surveys/{id}/results/"]["get"]["responses"]
    assert "400" in paths["/api/v1/surveys/"]["post"]["responses"]
