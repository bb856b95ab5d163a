"""Rules found while building the backbone, each pinned by the test that would have caught it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from departments.models import Membership
from tests.factories import UserFactory
from tickets import services
from tickets.models import Comment, Service, Ticket

pytestmark = pytest.mark.django_db


def file(company) -> Ticket:
    return services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="显示器闪烁",
        form_data={"model": "14寸"},
    )


def test_requester_can_cancel_with_a_reason(company, api):
    ticket = file(company)
    r = api(company.requester).post(
        f"/api/v1/tickets/{ticket.pk}/transitions/",
        {"status": "cancelled", "comment": "已自行解决"},
        format="json",
    )
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "cancelled"
    assert list(Comment.objects.filter(ticket=ticket).values_list("body", flat=True)) == [
        "已自行解决"
    ]


def test_requester_can_close_with_a_thank_you(company, api):
    ticket = file(company)
    services.transition_ticket(ticket=ticket, actor=company.agent, status="resolved")
    r = api(company.requester).post(
        f"/api/v1/tickets/{ticket.pk}/transitions/",
        {"status": "closed", "comment": "谢谢！"},
        format="json",
    )
    assert r.status_code == 200, r.json()
    assert r.json()["closed_at"] is not None
    assert Comment.objects.get(ticket=ticket).body == "谢谢！"


def test_a_refused_move_keeps_no_comment(company, api):
    ticket = file(company)
    r = api(company.requester).post(
        f"/api/v1/tickets/{ticket.pk}/transitions/",
        {"status": "resolved", "comment": "我自己解决了"},
        format="json",
    )
    assert r.status_code == 409
    assert not Comment.objects.filter(ticket=ticket).exists()


def test_requester_cannot_reopen_after_the_reopen_window(company, api, settings):
    settings.TICKET_REOPEN_WINDOW_DAYS = 14
    ticket = file(company)
    services.transition_ticket(ticket=ticket, actor=company.agent, status="resolved")
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=15))
    r = api(company.requester).post(
        f"/api/v1/tickets/{ticket.pk}/transitions/", {"status": "in_progress"}, format="json"
    )
    assert r.status_code == 409
    assert r.json()["code"] == "invalid_transition"
    assert "14" in r.json()["detail"]
    # The provider may still reopen it.
    r = api(company.agent).post(
        f"/api/v1/tickets/{ticket.pk}/transitions/", {"status": "in_progress"}, format="json"
    )
    assert r.status_code == 200


def test_requester_can_reopen_inside_the_window(company, api):
    ticket = file(company)
    services.transition_ticket(ticket=ticket, actor=company.agent, status="resolved")
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=13))
    r = api(company.requester).post(
        f"/api/v1/tickets/{ticket.pk}/transitions/", {"status": "in_progress"}, format="json"
    )
    assert r.status_code == 200


def test_head_of_provider_edits_its_services_but_not_others(company, api):
    head = api(company.it_head)
    r = head.patch(f"/api/v1/services/{company.service.pk}/", {"category": "硬件"}, format="json")
    assert r.status_code == 200, r.json()
    finance_service = Service.objects.create(department=company.finance, name="报销")
    r = head.patch(f"/api/v1/services/{finance_service.pk}/", {"category": "x"}, format="json")
    assert r.status_code == 403
    r = api(company.agent).patch(
        f"/api/v1/services/{company.service.pk}/", {"category": "y"}, format="json"
    )
    assert r.status_code == 403
    assert Service.objects.get(pk=company.service.pk).category == "硬件"


def test_head_cannot_save_a_malformed_form_schema(company, api):
    r = api(company.it_head).patch(
        f"/api/v1/services/{company.service.pk}/",
        {"form_schema": [{"key": "size", "type": "choice"}]},
        format="json",
    )
    assert r.status_code == 400
    assert "form_schema" in r.json()["fields"]
    assert Service.objects.get(pk=company.service.pk).form_schema[0]["key"] == "model"


def test_admin_form_refuses_a_malformed_form_schema(company):
    from tickets.admin import ServiceAdminForm

    form = ServiceAdminForm(
        data={
            "department": company.it.pk,
            "name": "新服务",
            "default_priority": "normal",
            "form_schema": '[{"key": "a"}, {"key": "a"}]',
            "is_active": "on",
        }
    )
    assert not form.is_valid()
    assert "form_schema" in form.errors


def test_chinese_names_read_family_name_first():
    assert str(UserFactory.build(first_name="伟", last_name="张")) == "张伟"
    assert str(UserFactory.build(first_name="Ada", last_name="Lovelace")) == "Ada Lovelace"
    assert str(UserFactory.build(first_name="", last_name="", username="bot")) == "bot"


def test_unauthenticated_api_call_gets_401_with_a_code(company, api):
    r = api().get("/api/v1/tickets/")
    assert r.status_code == 401
    assert r.json()["code"] == "not_authenticated"
    assert r["WWW-Authenticate"].startswith("Token")


def test_assignee_must_be_agent_of_provider(company, api):
    ticket = file(company)
    outsider = UserFactory(department=company.hr)
    Membership.objects.create(user=outsider, department=company.finance, role="agent")
    r = api(company.it_head).patch(
        f"/api/v1/tickets/{ticket.pk}/", {"assignee": outsider.pk}, format="json"
    )
    assert r.status_code == 400
    assert "assignee" in r.json()["fields"]
