"""What the queue page keeps per process. Its compiled statements (servicedesk.statements.fetch)
are kept per departments, not per viewer: agents of the same departments share one, bound to
each one's own id (but for "assigned to me", each viewer's own). Its rows and filters are kept
under all they show: a change shows at the next visit."""

import pytest

from departments.models import Membership
from servicedesk import statements
from tests.factories import ServiceFactory, make_member
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def file(company, title: str, service=None) -> Ticket:
    return services.file_ticket(
        requester=company.requester,
        service=service or company.service,
        title=title,
        priority="normal",
        form_data={} if service else {"model": "14寸"},
    )


def page(client, user, query: str = "") -> str:
    client.force_login(user)
    response = client.get(f"/queue/{query}", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    return response.content.decode()


def queue_statements() -> list:
    return [key for key in statements._kept if key[0] == "queue-rows"]


def test_agents_of_the_same_department_share_the_pages_statements_and_see_their_own(
    client, company
):
    first_agents = file(company, "给第一位")
    services.update_ticket(ticket=first_agents, actor=company.agent, assignee=company.agent)
    second_agents = file(company, "给第二位")
    services.update_ticket(ticket=second_agents, actor=company.agent, assignee=company.agent2)
    nobodys = file(company, "没人管")
    third = make_member(company.it, Membership.Role.AGENT, username="agent3")
    statements._kept.clear()

    for agent, own, others in (
        (company.agent, first_agents, second_agents),
        (company.agent2, second_agents, first_agents),
        (third, None, first_agents),
    ):
        everything = page(client, agent)
        for ticket in (first_agents, second_agents, nobodys):
            assert ticket.reference in everything
        mine = page(client, agent, "?assignee=me")
        assert others.reference not in mine and nobodys.reference not in mine
        if own is not None:
            assert own.reference in mine
        else:
            assert "No tickets match these filters." in mine
    # One statement for the first page, whoever asks; "assigned to me" is each one's own.
    assert len([key for key in queue_statements() if key[3] is None]) == 1  # no viewer's own
    assert len(queue_statements()) == 4


def test_another_departments_agent_gets_its_own_statement_and_its_own_tickets(client, company):
    it_ticket = file(company, "电脑")
    finance_ticket = file(company, "报销", service=ServiceFactory(department=company.finance))
    statements._kept.clear()
    it_page = page(client, company.agent)
    finance_page = page(client, company.finance_agent)
    assert it_ticket.reference in it_page and finance_ticket.reference not in it_page
    assert finance_ticket.reference in finance_page and it_ticket.reference not in finance_page
    # The head of IT heads the department as well as serving it: a statement of its own.
    head_page = page(client, company.it_head)
    assert it_ticket.reference in head_page and finance_ticket.reference not in head_page
    assert len(queue_statements()) == 3
    # Again, from the statements kept: still each one's own.
    assert finance_ticket.reference not in page(client, company.agent)
    assert it_ticket.reference not in page(client, company.finance_agent)
    assert len(queue_statements()) == 3


def test_a_changed_ticket_shows_its_change_at_the_next_visit(client, company):
    ticket = file(company, "打印机坏了")
    first = page(client, company.agent)
    assert "打印机坏了" in first and "<em>Unassigned</em>" in first
    services.update_ticket(ticket=ticket, actor=company.requester, title="打印机又坏了")
    services.update_ticket(ticket=ticket, actor=company.agent, assignee=company.agent2)
    again = page(client, company.agent)
    assert "打印机又坏了" in again and "打印机坏了<" not in again
    assert "<em>Unassigned</em>" not in again and str(company.agent2) in again
    company.agent2.first_name = "新名"
    company.agent2.save(update_fields=["first_name"])
    assert str(company.agent2) in page(client, company.agent)


def test_rows_and_filters_follow_the_pages_language(client, company):
    file(company, "显示器")
    client.force_login(company.agent)
    for language, words in (("en", "Unassigned"), ("zh-hans", "未分派"), ("en", "Unassigned")):
        text = client.get("/queue/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
        rows = text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
        assert f"<em>{words}</em>" in rows, language
        filters = text.split('class="queue-filters', 1)[1].split("</form>", 1)[0]
        assert f">{words}</option>" in filters, language
