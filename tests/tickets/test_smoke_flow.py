import pytest

pytestmark = pytest.mark.django_db


def test_requester_files_and_agent_resolves(company, api):
    client = api(company.requester)
    r = client.post(
        "/api/v1/tickets/",
        {"service": company.service.pk, "title": "新电脑", "form_data": {"model": "14寸"}},
        format="json",
    )
    assert r.status_code == 201, r.json()
    ticket = r.json()
    assert ticket["reference"].startswith("IT-")
    agent = api(company.agent)
    r = agent.post(
        f"/api/v1/tickets/{ticket['id']}/transitions/", {"status": "in_progress"}, format="json"
    )
    assert r.status_code == 200, r.json()
    assert r.json()["first_response_at"] is not None
