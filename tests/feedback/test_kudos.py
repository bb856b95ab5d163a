"""Kudos (DESIGN §2 "Feedback", §3 `kudos/`): an employee thanks an agent who worked on their
ticket, once per ticket and agent; the agent is told in-app; heads see recognition per agent."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from feedback.models import Kudos
from feedback.rating_selectors import kudos_by_agent, kudos_count, kudos_recognition
from feedback.ratings import give_kudos
from servicedesk.errors import Conflict, InvalidInput, NotAllowed
from tests.factories import UserFactory
from tests.feedback.rating_helpers import filed_ticket, resolved_ticket
from tickets import services
from tickets.models import Notification

pytestmark = pytest.mark.django_db

KUDOS = "/api/v1/kudos/"


def test_requester_thanks_the_assignee_and_the_agent_is_told(company):
    ticket = resolved_ticket(company)
    kudos = give_kudos(giver=company.requester, ticket=ticket, agent=company.agent, message="谢谢")
    assert (kudos.department, kudos.message) == (company.it, "谢谢")
    note = Notification.objects.get(user=company.agent, kind="kudos")
    assert note.ticket == ticket and "谢谢" in note.message
    assert note.url == f"/tickets/{ticket.reference}/#kudos"


def test_an_agent_who_replied_publicly_can_be_thanked(company):
    ticket = resolved_ticket(company)
    services.add_comment(ticket=ticket, author=company.agent2, body="我来帮忙看看")
    assert give_kudos(giver=company.requester, ticket=ticket, agent=company.agent2, message="")


def test_a_former_assignee_can_be_thanked(company):
    ticket = filed_ticket(company)
    services.update_ticket(ticket=ticket, actor=company.it_head, assignee=company.agent2)
    services.update_ticket(ticket=ticket, actor=company.it_head, assignee=company.agent)
    services.transition_ticket(ticket=ticket, actor=company.agent, status="resolved")
    assert give_kudos(giver=company.requester, ticket=ticket, agent=company.agent2, message="")


@pytest.mark.parametrize("who", ["agent2", "finance_agent", "requester", "it_head"])
def test_only_someone_who_worked_on_the_ticket_can_be_thanked(company, who):
    ticket = resolved_ticket(company)
    # agent2 only wrote an internal note: invisible work is not thanked by the requester.
    services.add_comment(ticket=ticket, author=company.agent2, body="内部", internal=True)
    with pytest.raises(InvalidInput) as refused:
        give_kudos(giver=company.requester, ticket=ticket, agent=getattr(company, who))
    assert "agent" in refused.value.fields


@pytest.mark.parametrize("who", ["other_employee", "hr_head", "agent", "it_head"])
def test_only_the_requester_gives_kudos(company, who):
    ticket = resolved_ticket(company)
    with pytest.raises(NotAllowed):
        give_kudos(giver=getattr(company, who), ticket=ticket, agent=company.agent)


def test_kudos_once_per_ticket_and_agent(company):
    ticket = resolved_ticket(company)
    give_kudos(giver=company.requester, ticket=ticket, agent=company.agent)
    with pytest.raises(Conflict):
        give_kudos(giver=company.requester, ticket=ticket, agent=company.agent, message="再谢")
    assert Kudos.objects.count() == 1
    assert Notification.objects.filter(kind="kudos").count() == 1
    # Another ticket: thanked again.
    other = resolved_ticket(company, title="第二个")
    give_kudos(giver=company.requester, ticket=other, agent=company.agent)
    assert Kudos.objects.count() == 2


# --- API --------------------------------------------------------------------------------------


def test_api_create_kudos(company, api):
    ticket = resolved_ticket(company)
    body = {"ticket": ticket.pk, "agent": company.agent.pk, "message": "太棒了"}
    response = api(company.requester).post(KUDOS, body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["ticket"], data["agent"], data["giver"]) == (
        ticket.pk,
        company.agent.pk,
        company.requester.pk,
    )
    assert data["ticket_reference"] == ticket.reference and data["message"] == "太棒了"
    again = api(company.requester).post(KUDOS, body, format="json")
    assert again.status_code == 409 and again.json()["code"] == "conflict"


@pytest.mark.parametrize(
    ("who", "expected", "field"),
    [
        ("other_employee", 400, "ticket"),  # cannot see the ticket: as if it did not exist
        ("finance_agent", 400, "ticket"),
        ("hr_head", 403, None),  # sees it as head of the consumer, but did not file it
        ("agent", 403, None),
        ("it_head", 403, None),
    ],
)
def test_api_only_the_requester_may_give_kudos(company, api, who, expected, field):
    ticket = resolved_ticket(company)
    body = {"ticket": ticket.pk, "agent": company.agent.pk}
    response = api(getattr(company, who)).post(KUDOS, body, format="json")
    assert response.status_code == expected, response.content
    if field:
        assert field in response.json()["fields"]
    assert not Kudos.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"agent": 999999}, "agent"),
        ({"agent": "x"}, "agent"),
        ({"ticket": "x"}, "ticket"),
        ({"ticket": 999999}, "ticket"),
        ({"message": "x" * 501}, "message"),
    ],
)
def test_api_bad_kudos_input_names_the_field(company, api, change, field):
    ticket = resolved_ticket(company)
    body = {"ticket": ticket.pk, "agent": company.agent.pk, **change}
    response = api(company.requester).post(KUDOS, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]


def test_api_thanking_someone_who_did_not_work_on_it_names_agent(company, api):
    ticket = resolved_ticket(company)
    body = {"ticket": ticket.pk, "agent": company.finance_agent.pk}
    response = api(company.requester).post(KUDOS, body, format="json")
    assert response.status_code == 400 and "agent" in response.json()["fields"]


@pytest.fixture
def given(company):
    """requester thanks agent (ticket 1) and agent2 (ticket 2); another HR employee thanks
    agent (ticket 3, filed by them)."""
    t1 = resolved_ticket(company, title="一")
    t2 = resolved_ticket(company, title="二")
    services.add_comment(ticket=t2, author=company.agent2, body="我也看了")
    t3 = services.file_ticket(
        requester=company.other_employee,
        service=company.service,
        title="三",
        form_data={"model": "16寸"},
    )
    services.transition_ticket(ticket=t3, actor=company.agent, status="in_progress")
    return {
        "a": give_kudos(giver=company.requester, ticket=t1, agent=company.agent),
        "b": give_kudos(giver=company.requester, ticket=t2, agent=company.agent2),
        "c": give_kudos(giver=company.other_employee, ticket=t3, agent=company.agent),
    }


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("requester", {"a", "b"}),  # gave them
        ("other_employee", {"c"}),
        ("agent", {"a", "c"}),  # received them
        ("agent2", {"b"}),
        ("it_head", {"a", "b", "c"}),  # head of the agents' department
        ("hr_head", set()),  # heads the givers' department, not the agents'
        ("finance_agent", set()),
        ("admin", {"a", "b", "c"}),
    ],
)
def test_api_kudos_list_shows_what_each_may_see(company, api, given, who, sees):
    user = UserFactory(is_staff=True) if who == "admin" else getattr(company, who)
    response = api(user).get(KUDOS)
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    assert ids == {given[key].pk for key in sees}


def test_api_kudos_list_is_cursor_paginated_and_bounded(company, api, given):
    response = api(company.it_head).get(KUDOS + "?page_size=2")
    body = response.json()
    assert len(body["results"]) == 2 and body["next"]
    newest_first = [row["id"] for row in body["results"]]
    assert newest_first == [given["c"].pk, given["b"].pk]
    rest = api(company.it_head).get(body["next"]).json()
    assert [row["id"] for row in rest["results"]] == [given["a"].pk]
    big = api(company.it_head).get(KUDOS + "?page_size=100000").json()
    assert len(big["results"]) == 3  # max_page_size applies; never unbounded


def test_api_kudos_list_query_count_does_not_grow(
    company, api, given, django_assert_max_num_queries
):
    client = api(company.it_head)
    with django_assert_max_num_queries(2):  # roles, page
        client.get(KUDOS)
    ticket = resolved_ticket(company, title="多")
    services.add_comment(ticket=ticket, author=company.agent2, body="帮忙")
    give_kudos(giver=company.requester, ticket=ticket, agent=company.agent)
    give_kudos(giver=company.requester, ticket=ticket, agent=company.agent2)
    client = api(company.it_head)
    with django_assert_max_num_queries(2):
        assert len(client.get(KUDOS).json()["results"]) == 5


def test_recognition_per_agent_counts_by_hand(company, given):
    start, end = timezone.now() - timedelta(days=1), timezone.now() + timedelta(days=1)
    top = kudos_by_agent(department_id=company.it.pk, start=start, end=end)
    assert [(agent.pk, n) for agent, n in top] == [(company.agent.pk, 2), (company.agent2.pk, 1)]
    assert kudos_count(department_id=company.it.pk, start=start, end=end) == 3
    assert kudos_count(department_id=company.finance.pk, start=start, end=end) == 0
    # Outside the period: nothing.
    later = end + timedelta(days=1)
    assert kudos_count(department_id=company.it.pk, start=end, end=later) == 0


def test_dashboard_recognition_gives_the_top_agents_and_the_total_in_one_query(
    company, given, django_assert_num_queries
):
    start, end = timezone.now() - timedelta(days=1), timezone.now() + timedelta(days=1)
    with django_assert_num_queries(1):
        top, total = kudos_recognition(department_id=company.it.pk, start=start, end=end)
    assert [(agent.pk, n) for agent, n in top] == [(company.agent.pk, 2), (company.agent2.pk, 1)]
    assert total == 3
    # The total counts every kudos, also those of agents beyond the top list.
    top, total = kudos_recognition(department_id=company.it.pk, start=start, end=end, limit=1)
    assert [(agent.pk, n) for agent, n in top] == [(company.agent.pk, 2)]
    assert total == 3
    assert kudos_recognition(department_id=company.finance.pk, start=start, end=end) == ([], 0)


def test_schema_documents_kudos_with_its_errors(company, api):
    schema = json.loads(api(UserFactory()).get("/api/schema/?format=json").content)
    item = schema["paths"]["/api/v1/kudos/"]
    assert {"201", "400", "403", "409"} <= set(item["post"]["responses"])
    assert "400" in item["get"]["responses"]
