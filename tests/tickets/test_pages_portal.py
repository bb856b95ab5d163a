"""The employee and agent portal pages: home, catalog, request form, my requests, ticket page."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from departments.models import Membership
from tests.factories import DepartmentFactory, ServiceFactory, UserFactory
from tickets import services, workflow
from tickets.models import Status, Ticket
from tickets.selectors import actor_roles

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def file(company, title: str = "需要一台电脑", **extra) -> Ticket:
    return services.file_ticket(
        requester=company.requester,
        service=company.service,
        title=title,
        form_data={"model": "14寸"},
        **extra,
    )


def html(response) -> str:
    return response.content.decode()


# -- Every page in both languages -------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "word"),
    [("en", "My open requests"), ("zh-hans", "我的未结请求")],
)
def test_home_lists_my_open_requests_with_due_times_and_a_catalog_search(
    client, company, language, word
):
    ticket = file(company)
    client.force_login(company.requester)
    page = client.get("/", HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 200
    text = html(page)
    assert word in text
    assert ticket.reference in text
    assert 'action="/catalog/"' in text and 'name="q"' in text


@pytest.mark.parametrize(("language", "word"), [("en", "Service catalog"), ("zh-hans", "服务目录")])
def test_catalog_groups_requestable_services_by_department(client, company, language, word):
    ServiceFactory(department=company.finance, name="报销咨询", category="报销")
    client.force_login(company.requester)
    page = client.get("/catalog/", HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 200
    text = html(page)
    assert word in text
    assert company.service.name in text and "报销咨询" in text
    assert company.it.name in text and company.finance.name in text


def test_catalog_search_and_department_filter(client, company):
    ServiceFactory(department=company.finance, name="报销咨询", category="报销", description="发票")
    client.force_login(company.requester)
    text = html(client.get("/catalog/?q=发票", **EN))
    assert "报销咨询" in text and company.service.name not in text
    text = html(client.get(f"/catalog/?department={company.it.pk}", **EN))
    assert company.service.name in text and "报销咨询" not in text
    text = html(client.get("/catalog/?q=nothing-like-this", **EN))
    assert "No services match your search." in text


def test_catalog_hides_services_my_department_may_not_request(client, company):
    restricted = ServiceFactory(department=company.it, name="服务器机房门禁")
    restricted.allowed_consumers.set([company.finance])
    client.force_login(company.requester)
    assert "服务器机房门禁" not in html(client.get("/catalog/", **EN))
    assert client.get(f"/catalog/{restricted.pk}/request/", **EN).status_code == 404
    client.force_login(company.finance_agent)
    assert "服务器机房门禁" in html(client.get("/catalog/", **EN))


@pytest.mark.parametrize(("language", "word"), [("en", "File request"), ("zh-hans", "提交请求")])
def test_request_form_shows_schema_fields_and_the_promise(client, company, language, word):
    client.force_login(company.requester)
    page = client.get(f"/catalog/{company.service.pk}/request/", HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 200
    text = html(page)
    assert word in text
    assert "型号" in text and "需要日期" in text and "数量" in text
    assert 'name="answer_model"' in text and 'type="date"' in text
    assert 'class="promise"' in text


# -- Filing through the form ------------------------------------------------------------------


def test_filing_through_the_form_creates_the_ticket_with_answers(client, company):
    client.force_login(company.requester)
    response = client.post(
        f"/catalog/{company.service.pk}/request/",
        {
            "title": "新员工电脑",
            "description": "下周一入职",
            "priority": "high",
            "answer_model": "16寸",
            "answer_needed_by": "2026-03-02",
            "answer_count": "2",
            "attachment": SimpleUploadedFile("清单.txt", b"one laptop", content_type="text/plain"),
        },
        **EN,
    )
    ticket = Ticket.objects.get(requester=company.requester)
    assert response.status_code == 302
    assert response["Location"] == f"/tickets/{ticket.reference}/"
    assert ticket.title == "新员工电脑" and ticket.priority == "high"
    assert ticket.form_data == {"model": "16寸", "needed_by": "2026-03-02", "count": 2}
    assert ticket.attachments.get().filename == "清单.txt"
    page = client.get(response["Location"], **EN)
    assert "清单.txt" in html(page)
    assert "<dt>型号</dt><dd>16寸</dd>" in html(page)
    assert f"/api/v1/tickets/{ticket.pk}/attachments/" in html(page)


def _error_after(text: str, field: str) -> str:
    """The error list right after a field's input, or '' when there is none."""
    match = re.search(
        rf'name="{field}".*?(<ul class="errorlist" id="id_{field}_errors">.*?</ul>)', text, re.S
    )
    return match.group(1) if match else ""


def test_bad_input_is_shown_next_to_each_field_and_keeps_what_was_typed(client, company):
    client.force_login(company.requester)
    response = client.post(
        f"/catalog/{company.service.pk}/request/",
        {
            "title": "我的电脑标题",
            "description": "我写的描述",
            "priority": "normal",
            "answer_model": "",
            "answer_count": "twelve",
            "answer_needed_by": "2026-03-02",
        },
        **EN,
    )
    assert response.status_code == 400
    assert not Ticket.objects.exists()
    text = html(response)
    assert "this field is required" in _error_after(text, "answer_model")
    assert "must be a number" in _error_after(text, "answer_count")
    assert _error_after(text, "answer_needed_by") == ""
    assert 'value="我的电脑标题"' in text and "我写的描述" in text
    assert 'value="twelve"' in text and 'value="2026-03-02"' in text


def test_bad_input_messages_in_chinese(client, company):
    client.force_login(company.requester)
    response = client.post(
        f"/catalog/{company.service.pk}/request/",
        {"title": "电脑", "priority": "normal", "answer_model": ""},
        **ZH,
    )
    assert "此项为必填项" in _error_after(html(response), "answer_model")


def test_a_refused_attachment_files_nothing_and_names_the_field(client, company):
    client.force_login(company.requester)
    response = client.post(
        f"/catalog/{company.service.pk}/request/",
        {
            "title": "电脑",
            "priority": "normal",
            "answer_model": "14寸",
            "attachment": SimpleUploadedFile(
                "run.exe", b"MZ\x90\x00", content_type="application/x-msdownload"
            ),
        },
        **EN,
    )
    assert response.status_code == 400
    assert not Ticket.objects.exists()
    assert _error_after(html(response), "attachment")


# -- My requests ------------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "word"), [("en", "My requests"), ("zh-hans", "我的请求")])
def test_my_requests_lists_only_mine_newest_first(client, company, language, word):
    older = file(company, title="旧的请求")
    newer = file(company, title="新的请求")
    services.file_ticket(
        requester=company.other_employee,
        service=company.service,
        title="别人的请求",
        form_data={"model": "14寸"},
    )
    client.force_login(company.requester)
    page = client.get("/requests/", HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 200
    text = html(page)
    assert word in text
    assert text.index(newer.reference) < text.index(older.reference)
    assert "别人的请求" not in text


def test_my_requests_filters_by_status_and_search(client, company):
    open_ticket = file(company, title="打印机坏了")
    cancelled = file(company, title="取消的请求")
    services.transition_ticket(ticket=cancelled, actor=company.requester, status=Status.CANCELLED)
    client.force_login(company.requester)
    text = html(client.get("/requests/", **EN))
    assert open_ticket.reference in text and cancelled.reference not in text
    text = html(client.get("/requests/?status=closed", **EN))
    assert cancelled.reference in text and open_ticket.reference not in text
    text = html(client.get("/requests/?status=all&q=打印机", **EN))
    assert open_ticket.reference in text and cancelled.reference not in text


def test_my_requests_pages_without_counting(client, company, settings):
    from tickets import views

    tickets = [file(company, title=f"请求{i}") for i in range(views.PAGE_SIZE + 2)]
    client.force_login(company.requester)
    first = html(client.get("/requests/", **EN))
    assert "Next page" in first and tickets[-1].reference in first
    second = html(client.get("/requests/?status=open&page=2", **EN))
    assert tickets[0].reference in second and "Next page" not in second


# -- The ticket page --------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "word"), [("en", "Timeline"), ("zh-hans", "时间线")])
def test_ticket_page_renders_in_both_languages(client, company, language, word):
    ticket = file(company)
    client.force_login(company.requester)
    page = client.get(f"/tickets/{ticket.reference}/", HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 200
    assert word in html(page)


VISIBILITY = [
    ("requester", 200),
    ("other_employee", 404),
    ("hr_head", 200),
    ("agent", 200),
    ("it_head", 200),
    ("finance_agent", 404),
]


@pytest.mark.parametrize(("who", "status"), VISIBILITY)
def test_ticket_page_visibility_and_internal_notes(client, company, who, status):
    ticket = file(company)
    services.add_comment(
        ticket=ticket, author=company.agent, body="机密：旧电脑要报废", internal=True
    )
    services.add_comment(ticket=ticket, author=company.agent, body="我们已收到", internal=False)
    client.force_login(getattr(company, who))
    page = client.get(f"/tickets/{ticket.reference}/", **EN)
    assert page.status_code == status
    if status == 200:
        text = html(page)
        assert "我们已收到" in text
        provider = who in ("agent", "it_head")
        assert ("机密：旧电脑要报废" in text) is provider
        assert ("Internal note" in text) is provider


def test_viewers_of_the_same_kind_each_see_only_their_own_departments_tickets(client, company):
    """The page reads its ticket with one statement per kind of viewer (how many departments
    they head and serve): heads of two departments each, and agents of two providers each,
    share it and still see only their own departments' tickets."""
    sales, legal = DepartmentFactory(code="SAL"), DepartmentFactory(code="LEG")
    heads = {}
    for consumer in (sales, legal):
        head = UserFactory(department=consumer)
        for department in (consumer, company.hr if consumer is sales else company.finance):
            Membership.objects.update_or_create(
                user=head, department=department, defaults={"role": Membership.Role.HEAD}
            )
        heads[consumer.code] = head
    legal_employee = UserFactory(department=legal)
    legal_ticket = services.file_ticket(
        requester=legal_employee,
        service=company.service,
        title="合同审核系统",
        form_data={"model": "14寸"},
    )
    hr_ticket = file(company)
    expected = {
        (heads["SAL"], hr_ticket): 200,  # head of HR as consumer
        (heads["SAL"], legal_ticket): 404,
        (heads["LEG"], legal_ticket): 200,
        (heads["LEG"], hr_ticket): 404,
        (company.agent, legal_ticket): 200,  # agent of the provider, IT
        (company.finance_agent, legal_ticket): 404,
    }
    for (viewer, ticket), status in expected.items():
        client.force_login(viewer)
        assert client.get(f"/tickets/{ticket.reference}/", **EN).status_code == status, (
            viewer,
            ticket,
        )


@pytest.mark.parametrize("who", ["requester", "agent", "it_head", "hr_head"])
@pytest.mark.parametrize("status", [Status.NEW, Status.IN_PROGRESS, Status.RESOLVED])
def test_transition_buttons_match_the_workflow(client, company, who, status):
    ticket = file(company)
    if status != Status.NEW:
        services.transition_ticket(ticket=ticket, actor=company.agent, status=Status.IN_PROGRESS)
    if status == Status.RESOLVED:
        services.transition_ticket(ticket=ticket, actor=company.agent, status=Status.RESOLVED)
    ticket.refresh_from_db()
    user = getattr(company, who)
    client.force_login(user)
    text = html(client.get(f"/tickets/{ticket.reference}/", **EN))
    shown = re.findall(r'data-target="([a-z_]+)"', text)
    assert shown == workflow.allowed_targets(ticket.status, actor_roles(user, ticket))


def test_requester_sees_reopen_and_confirm_on_a_resolved_ticket(client, company):
    ticket = file(company)
    services.transition_ticket(ticket=ticket, actor=company.agent, status=Status.RESOLVED)
    client.force_login(company.requester)
    text = html(client.get(f"/tickets/{ticket.reference}/", **EN))
    assert "Reopen" in text and "Confirm &amp; close" in text and "Resolve<" not in text
    client.post(f"/tickets/{ticket.reference}/transition/", {"status": Status.CLOSED})
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED


def test_agent_assigns_with_the_select_and_starts(client, company):
    ticket = file(company)
    client.force_login(company.agent)
    text = html(client.get(f"/tickets/{ticket.reference}/", **EN))
    assert 'name="assignee"' in text and str(company.agent2) in text
    response = client.post(
        f"/tickets/{ticket.reference}/transition/",
        {"status": Status.ASSIGNED, "assignee": company.agent2.pk},
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.ASSIGNED and ticket.assignee == company.agent2


def test_a_refused_transition_shows_the_message_not_a_500(client, company):
    ticket = file(company)
    client.force_login(company.requester)
    response = client.post(
        f"/tickets/{ticket.reference}/transition/", {"status": Status.RESOLVED}, **EN
    )
    assert response.status_code == 409
    assert "cannot move" in html(response)
    response = client.post(f"/tickets/{ticket.reference}/transition/", {"status": "bogus"}, **EN)
    assert response.status_code == 400


def test_replies_and_internal_notes_from_the_page(client, company):
    ticket = file(company)
    client.force_login(company.agent)
    assert 'name="internal"' in html(client.get(f"/tickets/{ticket.reference}/", **EN))
    client.post(f"/tickets/{ticket.reference}/reply/", {"body": "内部备注内容", "internal": "on"})
    client.post(
        f"/tickets/{ticket.reference}/reply/",
        {
            "body": "请重启试试",
            "attachment": SimpleUploadedFile(
                "截图.png", b"\x89PNG\r\n\x1a\n" + b"0" * 20, content_type="image/png"
            ),
        },
    )
    assert ticket.comments.filter(internal=True).count() == 1
    client.force_login(company.requester)
    text = html(client.get(f"/tickets/{ticket.reference}/", **EN))
    assert 'name="internal"' not in text
    assert "内部备注内容" not in text and "请重启试试" in text
    # The requester cannot sneak an internal note in.
    client.post(f"/tickets/{ticket.reference}/reply/", {"body": "我的回复", "internal": "on"})
    assert ticket.comments.get(body="我的回复").internal is False


def test_an_empty_reply_is_refused_next_to_the_field(client, company):
    ticket = file(company)
    client.force_login(company.requester)
    response = client.post(f"/tickets/{ticket.reference}/reply/", {"body": ""}, **EN)
    assert response.status_code == 400
    assert _error_after(html(response), "body")


def test_provider_changes_priority_and_assignee(client, company):
    ticket = file(company)
    client.force_login(company.it_head)
    response = client.post(
        f"/tickets/{ticket.reference}/update/", {"priority": "urgent", "assignee": company.agent.pk}
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.priority == "urgent" and ticket.assignee == company.agent
    client.force_login(company.requester)
    response = client.post(f"/tickets/{ticket.reference}/update/", {"priority": "low"})
    assert response.status_code == 404
    client.force_login(company.finance_agent)
    assert client.post(f"/tickets/{ticket.reference}/reply/", {"body": "x"}).status_code == 404


# -- Query counts -----------------------------------------------------------------------------


# Pinned bounds: session, user, unread count, roles, rows (+ prefetches). Raise only with a reason.
TICKET_PAGE_QUERIES = 9  # + the ticket, calendar, comments, events, files, agents
TICKET_PAGE_QUERIES += 2  # the rating and the kudos of the ticket (feedback sections)
REQUESTS_PAGE_QUERIES = 5  # + one page of tickets joined to their summaries


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **EN)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_ticket_page_query_count_does_not_grow_with_comments(client, company):
    small = file(company)
    large = file(company)
    for ticket, n in ((small, 3), (large, 30)):
        for i in range(n):
            services.add_comment(
                ticket=ticket, author=company.agent, body=f"回复 {i}", internal=i % 2 == 0
            )
            services.add_attachment(
                ticket=ticket,
                uploaded_by=company.agent,
                upload=SimpleUploadedFile(f"f{i}.txt", b"x", content_type="text/plain"),
            )
    for user in (company.agent, company.requester):
        client.force_login(user)
        _queries(client, f"/tickets/{small.reference}/")  # warm up
        few = _queries(client, f"/tickets/{small.reference}/")
        assert few == _queries(client, f"/tickets/{large.reference}/")
        assert few <= TICKET_PAGE_QUERIES


def test_my_requests_query_count_does_not_grow_with_tickets(client, company):
    other = DepartmentFactory(name="行政部", code="ADM")
    other_service = ServiceFactory(department=other)
    client.force_login(company.requester)
    for _ in range(3):
        file(company)
    few = _queries(client, "/requests/")
    for i in range(27):
        services.file_ticket(
            requester=company.requester,
            service=other_service if i % 2 else company.service,
            title="t",
            form_data={"model": "14寸"} if not i % 2 else {},
        )
    assert _queries(client, "/requests/") == few
    assert few <= REQUESTS_PAGE_QUERIES
    assert _queries(client, "/") == _queries(client, "/")


# -- Actions with a note, and the requester's edit while new ----------------------------------


def test_agent_resolves_with_a_public_note_the_requester_reads(client, company):
    ticket = file(company)
    services.transition_ticket(ticket=ticket, actor=company.agent, status=Status.IN_PROGRESS)
    client.force_login(company.agent)
    response = client.post(
        f"/tickets/{ticket.reference}/transition/",
        # The one action form also carries the assignee select; only "assign" may use it.
        {"status": Status.RESOLVED, "comment": "已更换电源适配器", "assignee": company.agent2.pk},
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED and ticket.assignee == company.agent
    client.force_login(company.requester)
    assert "已更换电源适配器" in html(client.get(f"/tickets/{ticket.reference}/"))


def test_a_refused_action_keeps_the_note_that_was_typed(client, company):
    ticket = file(company)
    client.force_login(company.requester)
    response = client.post(
        f"/tickets/{ticket.reference}/transition/",
        {"status": Status.RESOLVED, "comment": "我写的说明"},
        **EN,
    )
    assert response.status_code == 409
    assert "我写的说明</textarea>" in html(response)
    assert not ticket.comments.exists()


def test_requester_edits_title_and_description_while_new(client, company):
    ticket = file(company)
    client.force_login(company.requester)
    page = html(client.get(f"/tickets/{ticket.reference}/", **EN))
    assert "Edit my request" in page
    response = client.post(
        f"/tickets/{ticket.reference}/edit/", {"title": "需要一台16寸电脑", "description": "尽快"}
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.title, ticket.description) == ("需要一台16寸电脑", "尽快")
    assert ticket.events.filter(kind="updated").exists()


def test_edit_refuses_an_empty_title_next_to_the_field_and_keeps_the_description(client, company):
    ticket = file(company)
    client.force_login(company.requester)
    response = client.post(
        f"/tickets/{ticket.reference}/edit/", {"title": "  ", "description": "新的说明"}, **EN
    )
    assert response.status_code == 400
    text = html(response)
    assert "This field is required" in text and "新的说明</textarea>" in text
    ticket.refresh_from_db()
    assert ticket.title == "需要一台电脑"


def test_edit_is_gone_once_picked_up_and_refused_for_others(client, company):
    ticket = file(company)
    client.force_login(company.agent)
    assert "Edit my request" not in html(client.get(f"/tickets/{ticket.reference}/", **EN))
    response = client.post(f"/tickets/{ticket.reference}/edit/", {"title": "x"}, **EN)
    assert response.status_code == 403
    services.transition_ticket(ticket=ticket, actor=company.agent, status=Status.ASSIGNED)
    client.force_login(company.requester)
    assert "Edit my request" not in html(client.get(f"/tickets/{ticket.reference}/", **EN))
    response = client.post(f"/tickets/{ticket.reference}/edit/", {"title": "改标题"}, **EN)
    assert response.status_code == 409
    assert "only be edited while the ticket is new" in html(response)
    client.force_login(company.finance_agent)
    assert client.post(f"/tickets/{ticket.reference}/edit/", {"title": "x"}).status_code == 404
