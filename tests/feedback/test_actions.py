"""PDCA improvement actions (DESIGN §2 Feedback, §3 `improvement-actions/` and `/actions/`):
a department's heads record an action prompted by a survey gap, a breach cluster or a
suggestion, owned by the department's staff, and move it plan → do → check → act (one stage
at a time; after act a new cycle starts at plan). Who may see and edit the board."""

import datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from departments.models import Membership
from feedback.actions import advance_improvement_action, save_improvement_action
from feedback.models import ImprovementAction, Survey
from feedback.suggestion_selectors import breach_clusters
from feedback.suggestions import submit_suggestion
from servicedesk.errors import InvalidInput, InvalidTransition, NotAllowed
from tests.factories import ServiceFactory, UserFactory, make_member
from tickets.models import Ticket
from tickets.services import file_ticket

pytestmark = pytest.mark.django_db

URL = "/api/v1/improvement-actions/"


def make_survey(department, title="2026 Q1 SERVQUAL"):
    now = timezone.now()
    return Survey.objects.create(
        kind=Survey.Kind.SERVQUAL,
        title=title,
        provider_department=department,
        opens_at=now - datetime.timedelta(days=30),
        closes_at=now - datetime.timedelta(days=1),
    )


@pytest.fixture
def staff_user(db):
    return UserFactory(username="admin1", is_staff=True)


@pytest.fixture
def sources(company):
    suggestion = submit_suggestion(
        author=company.requester, department=company.it, title="打印机", body="b", anonymous=False
    )
    other_suggestion = submit_suggestion(
        author=company.requester, department=company.finance, title="报销", body="b", anonymous=True
    )
    return {
        "survey": make_survey(company.it),
        "other_survey": make_survey(company.finance, "财务调查"),
        "suggestion": suggestion,
        "other_suggestion": other_suggestion,
        "service": company.service,
        "other_service": ServiceFactory(department=company.finance, name="报销"),
    }


def payload(company, **changes):
    body = {
        "department": company.it.pk,
        "title": "缩短笔记本交付时间",
        "owner": company.agent.pk,
        "source_type": "breach",
        "source_id": company.service.pk,
        "due_date": "2026-12-31",
        "metric": "解决时限达成率 %",
        "baseline": "72.50",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


# --- sources -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source_type", "key"),
    [("survey", "survey"), ("breach", "service"), ("suggestion", "suggestion")],
)
def test_each_source_type_accepts_its_own_department_source(
    company, api, sources, source_type, key
):
    response = api(company.it_head).post(
        URL, payload(company, source_type=source_type, source_id=sources[key].pk)
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["source_type"] == source_type
    assert body["source_id"] == sources[key].pk
    assert body["stage"] == "plan"
    assert body["owner"] == company.agent.pk
    assert body["baseline"] == "72.50" and body["result"] is None


@pytest.mark.parametrize(
    ("source_type", "key"),
    [
        ("survey", "other_survey"),  # a survey of another provider
        ("breach", "other_service"),  # a service of another department
        ("suggestion", "other_suggestion"),  # a suggestion to another department
    ],
)
def test_source_of_another_department_or_kind_is_refused_naming_source_id(
    company, api, sources, source_type, key
):
    response = api(company.it_head).post(
        URL, payload(company, source_type=source_type, source_id=sources[key].pk)
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == ["source_id"]
    assert ImprovementAction.objects.count() == 0


def test_missing_source_and_unknown_type_name_their_fields(company, api):
    client = api(company.it_head)
    for source_type in ("survey", "breach", "suggestion"):
        response = client.post(URL, payload(company, source_type=source_type, source_id=987654))
        assert response.status_code == 400 and "source_id" in response.json()["fields"]
    response = client.post(URL, payload(company, source_type="rumour"))
    assert response.status_code == 400 and "source_type" in response.json()["fields"]
    body = payload(company)
    body.pop("source_id")
    response = client.post(URL, body)
    assert response.status_code == 400 and "source_id" in response.json()["fields"]


def test_service_refuses_a_bad_source_with_a_domain_error(company, sources):
    with pytest.raises(InvalidInput) as error:
        save_improvement_action(
            actor=company.it_head,
            department=company.it,
            title="t",
            owner=company.agent,
            source_type="suggestion",
            source_id=sources["other_suggestion"].pk,
        )
    assert list(error.value.fields) == ["source_id"]


# --- owner ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("owner", ["requester", "finance_agent", "hr_head"])
def test_owner_must_be_agent_or_head_of_the_department(company, api, owner):
    response = api(company.it_head).post(URL, payload(company, owner=getattr(company, owner).pk))
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["owner"]


def test_head_may_own_an_action(company, api):
    response = api(company.it_head).post(URL, payload(company, owner=company.it_head.pk))
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": None}, "title"),
        ({"department": None}, "department"),
        ({"owner": 999999}, "owner"),
        ({"due_date": "next week"}, "due_date"),
        ({"baseline": "abc"}, "baseline"),
        ({"stage": "later"}, "stage"),
    ],
)
def test_bad_input_names_the_field(company, api, changes, field):
    response = api(company.it_head).post(URL, payload(company, **changes))
    assert response.status_code == 400
    assert field in response.json()["fields"]


# --- who edits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("it_head", 201),
        ("staff", 201),
        ("agent", 403),
        ("requester", 403),
        ("hr_head", 403),
        ("finance_agent", 403),
    ],
)
def test_only_heads_and_admins_create(company, api, staff_user, role, status):
    user = staff_user if role == "staff" else getattr(company, role)
    response = api(user).post(URL, payload(company))
    assert response.status_code == status
    if status == 403:
        assert response.json()["code"] == "permission_denied"


@pytest.fixture
def action(company):
    return save_improvement_action(
        actor=company.it_head,
        department=company.it,
        title="缩短交付时间",
        owner=company.agent,
        source_type="breach",
        source_id=company.service.pk,
        metric="达成率",
        baseline=Decimal("70"),
        due_date=timezone.localdate() - datetime.timedelta(days=3),
    )


# role -> (sees it in the list, retrieve, patch)
MATRIX = {
    "it_head": (True, 200, 200),
    "agent": (True, 200, 403),
    "agent2": (True, 200, 403),
    "requester": (False, 404, 404),
    "other_employee": (False, 404, 404),
    "hr_head": (False, 404, 404),
    "finance_agent": (False, 404, 404),
    "staff": (True, 200, 200),
}


@pytest.mark.parametrize("role", list(MATRIX))
def test_api_access_matrix(company, api, staff_user, action, role):
    listed, retrieve, patch = MATRIX[role]
    client = api(staff_user if role == "staff" else getattr(company, role))
    rows = client.get(URL).json()["results"]
    assert ([r["id"] for r in rows] == [action.pk]) == listed
    assert client.get(f"{URL}{action.pk}/").status_code == retrieve
    assert client.patch(f"{URL}{action.pk}/", {"result": "80"}).status_code == patch


def test_no_delete(company, api, action):
    assert api(company.it_head).delete(f"{URL}{action.pk}/").status_code == 405


def test_moving_an_action_to_another_department_needs_heads_of_both(company, api, action):
    make_member(company.finance, Membership.Role.AGENT, username="finagent2")
    response = api(company.it_head).patch(f"{URL}{action.pk}/", {"department": company.finance.pk})
    assert response.status_code == 403


# --- stages --------------------------------------------------------------------------------------


def test_stages_move_forward_one_at_a_time_and_act_starts_a_new_cycle(company, api, action):
    client = api(company.it_head)
    for stage in ("do", "check", "act", "plan"):
        response = client.patch(f"{URL}{action.pk}/", {"stage": stage})
        assert response.status_code == 200, response.content
        assert response.json()["stage"] == stage


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ([], "check"),
        ([], "act"),
        (["do"], "plan"),
        (["do"], "act"),
        (["do", "check"], "do"),
        (["do", "check"], "plan"),
        (["do", "check", "act"], "check"),
    ],
)
def test_skipping_or_going_back_is_409_naming_stage(company, api, action, path, refused):
    client = api(company.it_head)
    for stage in path:
        assert client.patch(f"{URL}{action.pk}/", {"stage": stage}).status_code == 200
    response = client.patch(f"{URL}{action.pk}/", {"stage": refused})
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert "stage" in response.json()["fields"]
    action.refresh_from_db()
    assert action.stage == (path[-1] if path else "plan")


def test_a_new_action_starts_at_plan(company, api):
    response = api(company.it_head).post(URL, payload(company, stage="do"))
    assert response.status_code == 409
    assert "stage" in response.json()["fields"]
    with pytest.raises(InvalidTransition):
        save_improvement_action(
            actor=company.it_head,
            department=company.it,
            title="t",
            owner=company.agent,
            source_type="breach",
            source_id=company.service.pk,
            stage="act",
        )


def test_agent_cannot_move_stages(company, action):
    with pytest.raises(NotAllowed):
        save_improvement_action(actor=company.agent, action=action, stage="do")


def test_filters_by_department_stage_and_source_type(company, api, action, staff_user):
    client = api(staff_user)
    assert [r["id"] for r in client.get(URL, {"stage": "plan"}).json()["results"]] == [action.pk]
    assert client.get(URL, {"stage": "do"}).json()["results"] == []
    assert client.get(URL, {"department": company.finance.pk}).json()["results"] == []
    assert len(client.get(URL, {"source_type": "breach"}).json()["results"]) == 1
    assert client.get(URL, {"stage": "soon"}).status_code == 400


# --- the breach cluster --------------------------------------------------------------------------


def test_breach_clusters_rank_services_by_recent_resolution_breaches(company):
    quiet = ServiceFactory(department=company.it, name="会议室")
    busy = ServiceFactory(department=company.it, name="VPN")
    for service, count in ((company.service, 1), (busy, 3), (quiet, 0)):
        for n in range(count + 1):
            ticket = file_ticket(
                requester=company.requester,
                service=service,
                title=f"{service.name} {n}",
                form_data={"model": "14寸"} if service == company.service else {},
            )
            Ticket.objects.filter(pk=ticket.pk).update(resolution_breached=n < count)
    # An old breach (filed 100 days ago) does not count.
    old = file_ticket(requester=company.requester, service=quiet, title="old", form_data={})
    Ticket.objects.filter(pk=old.pk).update(
        resolution_breached=True, created_at=timezone.now() - datetime.timedelta(days=100)
    )
    ranked = [(s.name, s.breaches) for s in breach_clusters(company.it.pk)]
    assert ranked == [("VPN", 3), (company.service.name, 1)]


# --- the board -----------------------------------------------------------------------------------


# role -> (board status, may edit, edit page status)
BOARD = {
    "it_head": (200, True, 200),
    "agent": (200, False, 403),
    "staff": (200, True, 200),
    "requester": (403, False, 404),
    "other_employee": (403, False, 404),
    "hr_head": (200, False, 404),  # their own (HR's) board, never IT's
    "finance_agent": (200, False, 404),
}


@pytest.mark.parametrize("role", list(BOARD))
def test_board_access_matrix(company, staff_user, action, role):
    status, can_edit, edit_status = BOARD[role]
    client = Client()
    client.force_login(staff_user if role == "staff" else getattr(company, role))
    response = client.get("/actions/", {"department": company.it.pk})
    assert response.status_code == status
    html = response.content.decode()
    assert ("缩短交付时间" in html) == (role in ("it_head", "agent", "staff"))
    assert (f"/actions/{action.pk}/edit/" in html) == can_edit
    assert client.get(f"/actions/{action.pk}/edit/").status_code == edit_status
    moved = client.post(f"/actions/{action.pk}/advance/", {"stage": "plan"})
    assert moved.status_code == (302 if can_edit else edit_status)
    action.refresh_from_db()
    assert action.stage == ("do" if can_edit else "plan")


def test_board_shows_columns_cards_overdue_source_and_metric(company, action):
    client = Client()
    client.force_login(company.it_head)
    html = client.get("/actions/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for column in ("col-plan", "col-do", "col-check", "col-act"):
        assert f'id="{column}"' in html
    card = html[html.index(f'id="action-{action.pk}"') :]
    card = card[: card.index("</article>")]
    assert "overdue" in card
    assert company.agent.get_full_name() in card
    assert f"service={company.service.pk}&amp;breached=yes" in card
    assert company.service.name in card
    assert "70.00 → –" in card


def test_moving_a_card_twice_with_a_stale_stage_does_not_skip(company, action):
    client = Client()
    client.force_login(company.it_head)
    client.post(f"/actions/{action.pk}/advance/", {"stage": "plan"})
    client.post(f"/actions/{action.pk}/advance/", {"stage": "plan"})  # double click
    action.refresh_from_db()
    assert action.stage == "do"


def test_form_prefilled_from_a_suggestion_creates_the_action(company, sources):
    suggestion = sources["suggestion"]
    client = Client()
    client.force_login(company.it_head)
    form = client.get("/actions/new/", {"source_type": "suggestion", "source_id": suggestion.pk})
    assert form.status_code == 200
    html = form.content.decode()
    assert f'value="suggestion:{suggestion.pk}" selected' in html
    assert 'value="打印机"' in html  # the title starts as the suggestion's
    response = client.post(
        f"/actions/new/?source_type=suggestion&source_id={suggestion.pk}",
        {
            "title": "加一台打印机",
            "owner": company.agent.pk,
            "source": f"suggestion:{suggestion.pk}",
            "metric": "排队分钟",
            "baseline": "15",
        },
    )
    assert response.status_code == 302
    created = ImprovementAction.objects.get()
    assert (created.department, created.source_type, created.source_id) == (
        company.it,
        "suggestion",
        suggestion.pk,
    )
    assert created.created_by == company.it_head


def test_form_errors_sit_next_to_fields_and_input_is_kept(company, sources):
    client = Client()
    client.force_login(company.it_head)
    response = client.post(
        f"/actions/new/?department={company.it.pk}",
        {
            "title": "",
            "owner": company.requester.pk,  # not staff of IT: not even offered
            "source": f"survey:{sources['survey'].pk}",
            "metric": "保留的指标",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_title_errors"' in html and 'id="id_owner_errors"' in html
    assert "保留的指标" in html
    assert ImprovementAction.objects.count() == 0


def test_form_for_another_department_is_refused(company, sources):
    client = Client()
    client.force_login(company.it_head)
    response = client.get(
        "/actions/new/",
        {"source_type": "suggestion", "source_id": sources["other_suggestion"].pk},
    )
    assert response.status_code == 403


def test_board_query_count_does_not_grow_with_cards(
    company, sources, django_assert_max_num_queries
):
    for n in range(40):
        source_type, source_id = [
            ("breach", company.service.pk),
            ("survey", sources["survey"].pk),
            ("suggestion", sources["suggestion"].pk),
        ][n % 3]
        created = save_improvement_action(
            actor=company.it_head,
            department=company.it,
            title=f"action {n}",
            owner=[company.agent, company.agent2, company.it_head][n % 3],
            source_type=source_type,
            source_id=source_id,
            due_date=timezone.localdate() + datetime.timedelta(days=n - 20),
        )
        for _ in range(n % 4):
            created = advance_improvement_action(actor=company.it_head, action=created)
    client = Client()
    client.force_login(company.it_head)
    client.get("/actions/")
    with django_assert_max_num_queries(9):
        response = client.get("/actions/")
    assert response.status_code == 200
    assert response.content.decode().count('class="pdca-card') == 40


def test_api_list_query_count_does_not_grow_with_rows(
    company, api, sources, django_assert_max_num_queries
):
    for n in range(30):
        save_improvement_action(
            actor=company.it_head,
            department=company.it,
            title=f"action {n}",
            owner=company.agent,
            source_type="survey",
            source_id=sources["survey"].pk,
        )
    client = api(company.agent)
    with django_assert_max_num_queries(3):  # roles, count, page
        response = client.get(URL)
    assert len(response.json()["results"]) == 30
