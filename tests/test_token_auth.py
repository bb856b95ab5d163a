"""API tokens (servicedesk.authentication): each token is its own user, whatever was asked
before in the process (the query is compiled once and reused); unknown and inactive get DRF's
answers; the user's roles come with the token, as the roles query gives them, read afresh on
every request; a ticket list costs the token (with the roles) and the rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from departments.models import User
from tickets import services

pytestmark = pytest.mark.django_db


def token_client(user: User) -> APIClient:
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_ACCEPT_LANGUAGE="en")
    return client


def test_each_token_is_its_own_user_and_sees_its_own_tickets(company):
    for number in range(2):
        services.file_ticket(
            requester=company.requester,
            service=company.service,
            title=f"打印机 {number}",
            form_data={"model": "14寸"},
        )
    seen = {company.agent: 2, company.requester: 2, company.finance_agent: 0, company.hr_head: 2}
    for _round in range(2):  # alternating users in one process
        for user, count in seen.items():
            client = token_client(user)
            me = client.get(f"/api/v1/users/{user.pk}/")
            assert me.status_code == 200 and me.json()["username"] == user.username
            tickets = client.get("/api/v1/tickets/")
            assert tickets.status_code == 200, tickets.content
            assert len(tickets.json()["results"]) == count, user.username


def test_the_token_and_its_user_are_read_whole(company):
    from servicedesk.authentication import TokenAuthentication

    stored = Token.objects.create(user=company.agent)
    user, token = TokenAuthentication().authenticate_credentials(stored.key)
    assert (token.key, token.user_id, token.created) == (
        stored.key,
        company.agent.pk,
        stored.created,
    )
    assert token.user is user
    fresh = User.objects.get(pk=company.agent.pk)
    for field in User._meta.concrete_fields:
        assert getattr(user, field.attname) == getattr(fresh, field.attname), field.name


@pytest.mark.django_db(transaction=True)  # committed: the catalog's names are then kept
def test_a_token_list_reads_the_token_with_the_roles_and_the_rows(company):
    services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="显示器",
        form_data={"model": "14寸"},
    )
    client = token_client(company.agent)
    first = client.get("/api/v1/tickets/")  # keeps the services' names, departments' codes
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/v1/tickets/").json() == first.json()
    assert len(captured) == 2, "\n".join(query["sql"] for query in captured.captured_queries)
    row = first.json()["results"][0]
    assert (row["service_name"], row["provider_department_code"]) == (company.service.name, "IT")


def test_the_roles_read_with_the_token_are_the_roles_query(company):
    """Agents, heads of one or two departments, a role in an inactive department (none), a
    requester with none: the same departments as `departments.selectors` reads apart."""
    from departments import selectors
    from departments.models import Department, Membership
    from servicedesk.authentication import TokenAuthentication

    Membership.objects.create(
        user=company.it_head, department=company.hr, role=Membership.Role.HEAD
    )
    closed = Department.objects.create(name="Closed", code="OLD", is_active=False)
    Membership.objects.create(user=company.agent2, department=closed, role=Membership.Role.AGENT)
    users = [company.agent, company.agent2, company.it_head, company.hr_head]
    for user in [*users, company.requester, company.finance_agent]:
        key = Token.objects.get_or_create(user=user)[0].key
        with CaptureQueriesContext(connection) as captured:
            authenticated, _token = TokenAuthentication().authenticate_credentials(key)
            provider = selectors.provider_department_ids(authenticated)
            headed = selectors.headed_department_ids(authenticated)
        assert len(captured) == 1, user.username
        apart = User.objects.get(pk=user.pk)
        assert provider == selectors.provider_department_ids(apart), user.username
        assert headed == selectors.headed_department_ids(apart), user.username
    it_head = TokenAuthentication().authenticate_credentials(
        Token.objects.get(user=company.it_head).key
    )[0]
    assert selectors.headed_department_ids(it_head) == {company.it.pk, company.hr.pk}
    requester = TokenAuthentication().authenticate_credentials(
        Token.objects.get(user=company.requester).key
    )[0]
    assert selectors.provider_department_ids(requester) == frozenset()


def test_a_role_taken_away_counts_at_the_next_request(company):
    ticket = services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="键盘",
        form_data={"model": "14寸"},
    )
    client = token_client(company.agent2)
    assert client.get(f"/api/v1/tickets/{ticket.pk}/").status_code == 200
    company.agent2.memberships.filter(department=company.it).delete()
    assert client.get(f"/api/v1/tickets/{ticket.pk}/").status_code == 404
    assert client.get("/api/v1/tickets/").json()["results"] == []


def test_unknown_and_inactive_tokens_get_drfs_answers(company):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    response = client.get("/api/v1/tickets/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 401, response.content
    assert response.json() == {"code": "authentication_failed", "detail": "Invalid token."}

    client = token_client(company.agent)
    User.objects.filter(pk=company.agent.pk).update(is_active=False)
    response = client.get("/api/v1/tickets/")
    assert response.status_code == 401, response.content
    assert response.json()["detail"] == "User inactive or deleted."
