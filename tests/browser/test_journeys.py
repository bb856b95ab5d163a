"""The main journeys end to end in real Chromium against a live server, in both languages:
an employee files a request with form fields and an attachment, the agent finds it in the queue,
writes an internal note and a public reply, resolves it; the employee sees only the public reply
and confirms. Screenshots of every page on the way (desktop and phone width)."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tickets.models import Comment, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
WORDS = {
    "zh-hans": {
        "send": "发送回复",
        "resolve": "标记为已解决",
        "close": "确认并关闭",
        "start": "开始处理",
    },
    "en": {
        "send": "Send reply",
        "resolve": "Resolve",
        "close": "Confirm & close",
        "start": "Start",
    },
}


def both_widths(page, shoot, name: str, language: str) -> None:
    shoot(page, name, language)
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    shoot(page, name, language, "phone")
    page.set_viewport_size(size)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_request_to_resolution_and_confirmation(
    browser, live_server, company, sign_in, shoot, tmp_path: Path, language
):
    words = WORDS[language]
    # -- The employee files a request with the service's fields and a file.
    employee = browser.new_context().new_page()
    sign_in(employee, "requester", language=language)
    both_widths(employee, shoot, "home", language)
    employee.goto(f"{live_server.url}/catalog/")
    both_widths(employee, shoot, "catalog", language)
    employee.goto(f"{live_server.url}/catalog/{company.service.pk}/request/")
    employee.fill("#id_title", "新员工笔记本")
    employee.fill("#id_description", "下周一入职，需要 16 寸")
    employee.select_option("#id_answer_model", "16寸")
    employee.fill("#id_answer_count", "abc")  # a bad number first: refused, typed values kept
    receipt = tmp_path / "quote.txt"
    receipt.write_text("报价单 1 台", encoding="utf-8")
    employee.set_input_files("#id_attachment", str(receipt))
    employee.locator("form.stacked button[type=submit]").click()
    expect(employee.locator("#id_answer_count_errors")).to_be_visible()
    assert employee.input_value("#id_title") == "新员工笔记本"
    both_widths(employee, shoot, "request-form-error", language)
    employee.fill("#id_answer_count", "1")
    employee.set_input_files("#id_attachment", str(receipt))
    employee.locator("form.stacked button[type=submit]").click()
    employee.wait_for_url("**/tickets/IT-*/")
    ticket = Ticket.objects.get()
    assert ticket.form_data == {"model": "16寸", "count": 1}
    assert ticket.attachments.get().filename == "quote.txt"
    both_widths(employee, shoot, "ticket-requester", language)

    # -- The agent finds it in the queue and works it.
    agent = browser.new_context().new_page()
    sign_in(agent, "agent", language=language)
    agent.goto(f"{live_server.url}/queue/")
    expect(agent.get_by_role("link", name=ticket.reference)).to_be_visible()
    both_widths(agent, shoot, "queue", language)
    agent.get_by_role("link", name=ticket.reference).click()
    agent.get_by_role("button", name=words["start"], exact=True).click()
    agent.fill("#id_body", "内部：先查库存 SECRET-NOTE")
    agent.check("#id_internal")
    agent.get_by_role("button", name=words["send"]).click()
    agent.fill("#id_body", "已为您下单，周五送达")
    agent.get_by_role("button", name=words["send"]).click()
    expect(agent.get_by_text("SECRET-NOTE")).to_be_visible()  # the provider sees its note
    agent.get_by_role("button", name=words["resolve"], exact=True).click()
    expect(agent.locator(".comment").first).to_be_visible()
    both_widths(agent, shoot, "ticket-agent", language)
    ticket.refresh_from_db()
    assert ticket.status == "resolved"
    assert Comment.objects.filter(ticket=ticket, internal=True).count() == 1

    # -- The employee sees the public reply only, and confirms.
    employee.goto(f"{live_server.url}/tickets/{ticket.reference}/")
    expect(employee.get_by_text("已为您下单，周五送达")).to_be_visible()
    assert "SECRET-NOTE" not in employee.content()
    employee.get_by_role("button", name=words["close"]).click()
    employee.wait_for_load_state()
    ticket.refresh_from_db()
    assert ticket.status == "closed"
    both_widths(employee, shoot, "ticket-closed", language)
    employee.goto(f"{live_server.url}/requests/?status=all")
    expect(employee.get_by_role("link", name=ticket.reference)).to_be_visible()
    both_widths(employee, shoot, "my-requests", language)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_head_dashboard_and_service_map_reflect_the_work(
    page, live_server, company, sign_in, shoot, language
):
    from tickets import services

    for title in ("打印机坏了", "账号锁定"):
        ticket = services.file_ticket(
            requester=company.requester,
            service=company.service,
            title=title,
            form_data={"model": "14寸"},
        )
    services.transition_ticket(ticket=ticket, actor=company.agent, status="resolved")
    sign_in(page, "ithead", language=language)
    page.goto(f"{live_server.url}/dashboard/")
    expect(page.locator("svg").first).to_be_visible()
    both_widths(page, shoot, "dashboard", language)
    page.goto(f"{live_server.url}/map/")
    edge = page.locator(f"tr[data-consumer='{company.hr.pk}'][data-provider='{company.it.pk}']")
    expect(edge.locator("td").nth(2)).to_have_text("2")  # HR → IT: 2 requests
    both_widths(page, shoot, "service-map", language)
    edge.locator("a").first.click()
    expect(page.get_by_text("账号锁定")).to_be_visible()
    both_widths(page, shoot, "service-map-edge", language)
