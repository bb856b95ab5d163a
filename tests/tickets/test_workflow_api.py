"""The ticket status machine through the API, checked against DESIGN.md §2's table.

The expected table below is written by hand from the design document (not imported from
`tickets.workflow`), so these tests check the code against the specification.
"""

import itertools
from typing import Any

import pytest
from rest_framework.test import APIClient

from departments.models import User
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


NEW = "new"
ASSIGNED = "assigned"
IN_PROGRESS = "in_progress"
WAITING = "waiting"
RESOLVED = "resolved"
CLOSED = "closed"
CANCELLED = "cancelled"
STATUSES = (NEW, ASSIGNED, IN_PROGRESS, WAITING, RESOLVED, CLOSED, CANCELLED)

REQUESTER = "requester"
AGENT = "agent"  # an agent of the provider department
HEAD = "head"  # a head of the provider department (acts as an agent too)
ACTORS = (REQUESTER, AGENT, HEAD)

PROVIDER = frozenset({AGENT, HEAD})

# DESIGN.md §2 "Status machine": (from, to) -> who may make the move by hand.
# Automatic moves (requester's reply, auto-close) are not made through transitions/.
EXPECTED_ALLOWED: dict[tuple[str, str], frozenset[str]] = {
    # new -> assigned: agent or head of provider (assignee set)
    (NEW, ASSIGNED): PROVIDER,
    # new, assigned -> in_progress: agent of provider
    (NEW, IN_PROGRESS): PROVIDER,
    (ASSIGNED, IN_PROGRESS): PROVIDER,
    # assigned, in_progress -> waiting: agent
    (ASSIGNED, WAITING): PROVIDER,
    (IN_PROGRESS, WAITING): PROVIDER,
    # waiting -> in_progress: agent (or automatically when the requester replies)
    (WAITING, IN_PROGRESS): PROVIDER,
    # new, assigned, in_progress, waiting -> resolved: agent of provider
    (NEW, RESOLVED): PROVIDER,
    (ASSIGNED, RESOLVED): PROVIDER,
    (IN_PROGRESS, RESOLVED): PROVIDER,
    (WAITING, RESOLVED): PROVIDER,
    # resolved -> in_progress: requester reopens, or agent
    (RESOLVED, IN_PROGRESS): frozenset({REQUESTER, AGENT, HEAD}),
    # resolved -> closed: requester confirms (or automatically)
    (RESOLVED, CLOSED): frozenset({REQUESTER}),
    # new, assigned, in_progress, waiting -> cancelled: requester, or head of provider
    (NEW, CANCELLED): frozenset({REQUESTER, HEAD}),
    (ASSIGNED, CANCELLED): frozenset({REQUESTER, HEAD}),
    (IN_PROGRESS, CANCELLED): frozenset({REQUESTER, HEAD}),
    (WAITING, CANCELLED): frozenset({REQUESTER, HEAD}),
}


def expected_allowed(source: str, target: str, actor: str) -> bool:
    return actor in EXPECTED_ALLOWED.get((source, target), frozenset())


def _case_id(actor: str, source: str, target: str) -> str:
    verdict = "allowed" if expected_allowed(source, target, actor) else "refused"
    return f"{actor}-{source}-to-{target}-{verdict}"


CASES = [
    pytest.param(actor, source, target, id=_case_id(actor, source, target))
    for actor, source, target in itertools.product(ACTORS, STATUSES, STATUSES)
]


def test_expected_table_only_names_known_statuses_and_actors():
    for (source, target), actors in EXPECTED_ALLOWED.items():
        assert source in STATUSES and target in STATUSES and source != target
        assert actors <= set(ACTORS)


# --- helpers -------------------------------------------------------------------------------


def file_ticket(client: APIClient, company: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/tickets/",
        {"service": company.service.pk, "title": "新电脑", "form_data": {"model": "14寸"}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def move(client: APIClient, ticket_id: int, status: str, **extra: Any) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/tickets/{ticket_id}/transitions/", {"status": status, **extra}, format="json"
    )
    assert response.status_code == 200, (status, response.json())
    assert response.json()["status"] == status
    return response.json()


# How to reach each status from `new`, through the API, with who makes each step.
PATHS: dict[str, list[tuple[str, str]]] = {
    NEW: [],
    ASSIGNED: [(AGENT, ASSIGNED)],
    IN_PROGRESS: [(AGENT, IN_PROGRESS)],
    WAITING: [(AGENT, IN_PROGRESS), (AGENT, WAITING)],
    RESOLVED: [(AGENT, IN_PROGRESS), (AGENT, RESOLVED)],
    CLOSED: [(AGENT, IN_PROGRESS), (AGENT, RESOLVED), (REQUESTER, CLOSED)],
    CANCELLED: [(REQUESTER, CANCELLED)],
}


def users_by_actor(company: Any) -> dict[str, User]:
    return {REQUESTER: company.requester, AGENT: company.agent, HEAD: company.it_head}


def ticket_in(status: str, company: Any, api: Any) -> dict[str, Any]:
    """A fresh ticket of the company's requester, driven through the API into `status`."""
    users = users_by_actor(company)
    ticket = file_ticket(api(company.requester), company)
    for actor, step in PATHS[status]:
        extra = {"assignee": company.agent.pk} if step == ASSIGNED else {}
        ticket = move(api(users[actor]), ticket["id"], step, **extra)
    assert ticket["status"] == status
    return ticket


def events(client: APIClient, ticket_id: int) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/tickets/{ticket_id}/events/")
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def status_changes(client: APIClient, ticket_id: int) -> list[tuple[str, str]]:
    return [
        (e["from_value"], e["to_value"])
        for e in events(client, ticket_id)
        if e["kind"] == "status_changed"
    ]


def retrieve(client: APIClient, ticket_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/tickets/{ticket_id}/")
    assert response.status_code == 200, response.json()
    return response.json()


# --- the whole table -----------------------------------------------------------------------


@pytest.mark.parametrize(("actor", "source", "target"), CASES)
def test_transition_follows_the_design_table(company, api, actor, source, target):
    ticket = ticket_in(source, company, api)
    user = users_by_actor(company)[actor]
    client = api(user)
    changes_before = status_changes(client, ticket["id"])
    body: dict[str, Any] = {"status": target}
    if target == ASSIGNED:
        body["assignee"] = company.agent.pk

    response = client.post(f"/api/v1/tickets/{ticket['id']}/transitions/", body, format="json")

    if expected_allowed(source, target, actor):
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == target
        assert retrieve(client, ticket["id"])["status"] == target
        changes_after = status_changes(client, ticket["id"])
        assert changes_after == [*changes_before, (source, target)]
        last = [e for e in events(client, ticket["id"]) if e["kind"] == "status_changed"][-1]
        assert last["actor"] == user.pk
        if target == ASSIGNED:
            assert response.json()["assignee"] == company.agent.pk
    else:
        assert response.status_code == 409, response.json()
        assert response.json()["code"] == "invalid_transition"
        assert response.json()["detail"]
        assert retrieve(client, ticket["id"])["status"] == source
        assert status_changes(client, ticket["id"]) == changes_before


# --- automatic moves and moments of truth -------------------------------------------------


def test_requester_reply_while_waiting_moves_ticket_back_to_in_progress(company, api):
    ticket = ticket_in(WAITING, company, api)
    requester = api(company.requester)

    response = requester.post(
        f"/api/v1/tickets/{ticket['id']}/comments/", {"body": "型号选 14 寸"}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert retrieve(requester, ticket["id"])["status"] == IN_PROGRESS
    assert status_changes(requester, ticket["id"])[-1] == (WAITING, IN_PROGRESS)


def test_requester_reply_outside_waiting_does_not_change_status(company, api):
    ticket = ticket_in(IN_PROGRESS, company, api)
    requester = api(company.requester)

    response = requester.post(
        f"/api/v1/tickets/{ticket['id']}/comments/", {"body": "还有多久？"}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert retrieve(requester, ticket["id"])["status"] == IN_PROGRESS


def test_new_ticket_has_no_first_response(company, api):
    ticket = file_ticket(api(company.requester), company)
    assert ticket["first_response_at"] is None


def test_first_public_agent_comment_sets_first_response(company, api):
    ticket = file_ticket(api(company.requester), company)
    agent = api(company.agent)

    response = agent.post(
        f"/api/v1/tickets/{ticket['id']}/comments/", {"body": "收到，正在处理"}, format="json"
    )

    assert response.status_code == 201, response.json()
    after = retrieve(agent, ticket["id"])
    assert after["first_response_at"] is not None
    assert after["status"] == NEW


def test_internal_note_does_not_set_first_response(company, api):
    ticket = file_ticket(api(company.requester), company)
    agent = api(company.agent)

    response = agent.post(
        f"/api/v1/tickets/{ticket['id']}/comments/",
        {"body": "先查库存", "internal": True},
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert retrieve(agent, ticket["id"])["first_response_at"] is None


def test_requester_comment_does_not_set_first_response(company, api):
    ticket = file_ticket(api(company.requester), company)
    requester = api(company.requester)

    response = requester.post(
        f"/api/v1/tickets/{ticket['id']}/comments/", {"body": "补充一下"}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert retrieve(requester, ticket["id"])["first_response_at"] is None


@pytest.mark.parametrize(
    ("steps", "target"),
    [
        pytest.param([], IN_PROGRESS, id="move-to-in_progress"),
        pytest.param([ASSIGNED], WAITING, id="move-to-waiting"),
        pytest.param([], RESOLVED, id="move-to-resolved"),
    ],
)
def test_provider_move_sets_first_response(company, api, steps, target):
    ticket = file_ticket(api(company.requester), company)
    agent = api(company.agent)
    for step in steps:
        ticket = move(agent, ticket["id"], step, assignee=company.agent.pk)
    assert ticket["first_response_at"] is None

    moved = move(agent, ticket["id"], target)

    assert moved["first_response_at"] is not None


def test_first_response_is_not_overwritten_by_later_responses(company, api):
    ticket = file_ticket(api(company.requester), company)
    agent = api(company.agent)
    first = move(agent, ticket["id"], IN_PROGRESS)["first_response_at"]
    agent.post(f"/api/v1/tickets/{ticket['id']}/comments/", {"body": "更新进度"}, format="json")

    later = move(agent, ticket["id"], WAITING)

    assert later["first_response_at"] == first


def test_first_response_is_recorded_once_in_the_timeline(company, api):
    ticket = file_ticket(api(company.requester), company)
    agent = api(company.agent)
    agent.post(f"/api/v1/tickets/{ticket['id']}/comments/", {"body": "收到"}, format="json")
    move(agent, ticket["id"], IN_PROGRESS)

    kinds = [e["kind"] for e in events(api(company.requester), ticket["id"])]

    assert kinds.count("first_response") == 1


@pytest.mark.parametrize("actor", [REQUESTER, AGENT])
def test_reopen_records_a_reopened_event(company, api, actor):
    ticket = ticket_in(RESOLVED, company, api)
    user = users_by_actor(company)[actor]
    client = api(user)

    move(client, ticket["id"], IN_PROGRESS)

    reopened = [e for e in events(client, ticket["id"]) if e["kind"] == "reopened"]
    assert len(reopened) == 1
    assert reopened[0]["actor"] == user.pk


def test_moves_between_open_statuses_record_no_reopened_event(company, api):
    ticket = ticket_in(WAITING, company, api)
    agent = api(company.agent)

    move(agent, ticket["id"], IN_PROGRESS)

    assert "reopened" not in [e["kind"] for e in events(agent, ticket["id"])]


def test_resolving_sets_resolved_at(company, api):
    ticket = ticket_in(IN_PROGRESS, company, api)
    assert ticket["resolved_at"] is None

    resolved = move(api(company.agent), ticket["id"], RESOLVED)

    assert resolved["resolved_at"] is not None
    assert resolved["closed_at"] is None
    assert Ticket.objects.get(pk=ticket["id"]).resolved_at is not None


def test_requester_confirming_sets_closed_at(company, api):
    ticket = ticket_in(RESOLVED, company, api)
    assert ticket["closed_at"] is None

    closed = move(api(company.requester), ticket["id"], CLOSED)

    assert closed["closed_at"] is not None
    assert closed["resolved_at"] is not None
    assert Ticket.objects.get(pk=ticket["id"]).closed_at is not None


def test_assigning_needs_an_agent_of_the_provider_as_assignee(company, api):
    ticket = file_ticket(api(company.requester), company)

    response = api(company.it_head).post(
        f"/api/v1/tickets/{ticket['id']}/transitions/",
        {"status": ASSIGNED, "assignee": company.finance_agent.pk},
        format="json",
    )

    assert response.status_code == 400, response.json()
    assert "assignee" in response.json()["fields"]
    assert retrieve(api(company.it_head), ticket["id"])["status"] == NEW
