"""The agent pages' HTML, byte for byte, across viewers, pages and languages: a recording to
compare before and after a change that must not change what the pages show (issue #6).

    PAGE_MATRIX_DIR=/tmp/pages-before ./dev test tests/tickets/test_page_matrix.py --create-db
    ... change the code ...
    PAGE_MATRIX_DIR=/tmp/pages-before ./dev test tests/tickets/test_page_matrix.py --create-db

The first run writes one file per page into the empty directory; a later run renders the same
pages and fails on the first difference. `--create-db`: ids come from the database's sequences,
so both runs start from a new database. Time stands still; only CSRF tokens are normalised.
Without PAGE_MATRIX_DIR the test is skipped.

Each page is rendered twice (cold and warm per-process caches: compiled statements, the filter
form) and both must be equal, and the agents' pages are rendered in turn so that a statement
kept for one viewer and reused by another shows its tickets to nobody else.
"""

import difflib
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from departments.models import Membership
from feedback import ratings
from tests.factories import ServiceFactory, UserFactory, make_member
from tests.tickets.test_pages_queue import make_it_policy
from tickets import services
from tickets.models import Notification, Status, Ticket

SNAPSHOTS = os.environ.get("PAGE_MATRIX_DIR", "")
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not SNAPSHOTS, reason="PAGE_MATRIX_DIR names the recording"),
]

SH = ZoneInfo("Asia/Shanghai")
FILED = datetime(2026, 11, 20, 10, 0, tzinfo=SH)  # a Friday, in working hours
SHOWN = datetime(2026, 11, 23, 9, 40, tzinfo=SH)  # the Monday after: some clocks run late
CSRF = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]+(")')
LANGUAGES = ("en", "zh-hans")
PRIORITIES = ("urgent", "high", "normal", "low")


def normalised(text: str) -> str:
    return CSRF.sub(r"\1CSRF\2", text)


def build_desk(company) -> dict:
    """The pages' world: IT's queue of 60 tickets in every status (more than a page), finance's
    queue, and tickets with comments, internal notes, files, a rating and kudos."""
    make_it_policy(company)
    printer = ServiceFactory(department=company.it, name="打印机 <维修> & 耗材")
    finance_service = ServiceFactory(department=company.finance, name="报销")
    # An agent of IT and finance (the picker) and a requester with a name of their own.
    both = make_member(company.it, Membership.Role.AGENT, username="both", first_name="双")
    Membership.objects.create(user=both, department=company.finance, role=Membership.Role.AGENT)
    named = UserFactory(username="named", first_name="Anne", last_name="O'Neil <x>")

    tickets: list[Ticket] = []
    with time_machine.travel(FILED, tick=False) as traveller:
        for number in range(60):
            traveller.move_to(FILED + timedelta(minutes=7 * number))
            requester = (company.requester, named, company.other_employee)[number % 3]
            ticket = services.file_ticket(
                requester=requester,
                service=printer if number % 4 == 0 else company.service,
                title=f"工单 {number} <b>&</b>",
                description=f"第一行\n\n第二行 <i>{number}</i>" if number % 2 else "",
                priority=PRIORITIES[number % 4],
                form_data={} if number % 4 == 0 else {"model": "14寸", "count": number},
            )
            assignee = (None, company.agent, company.agent2, company.it_head)[number % 4]
            if assignee is not None:
                services.update_ticket(ticket=ticket, actor=company.agent, assignee=assignee)
            if number % 5 == 1:
                services.transition_ticket(
                    ticket=ticket, actor=assignee or company.agent, status=Status.IN_PROGRESS
                )
            if number % 5 == 2 and assignee is not None:
                services.transition_ticket(ticket=ticket, actor=assignee, status=Status.WAITING)
            if number % 10 == 3:
                services.transition_ticket(ticket=ticket, actor=requester, status=Status.CANCELLED)
            tickets.append(ticket)
        traveller.move_to(FILED + timedelta(hours=8))
        full = tickets[1]  # in progress: every section
        services.add_comment(ticket=full, author=full.requester, body="**急**，谢谢 <script>")
        services.add_comment(ticket=full, author=company.agent, body="内部：换主板", internal=True)
        services.add_comment(ticket=full, author=company.agent, body="Working on it\n\n- a\n- b")
        services.add_attachment(
            ticket=full,
            uploaded_by=full.requester,
            upload=SimpleUploadedFile("照片 1.png", b"\x89PNG\r\n\x1a\n" + b"0" * 3000),
        )
        services.add_attachment(
            ticket=full,
            uploaded_by=company.agent,
            upload=SimpleUploadedFile("log<1>.txt", b"log line\n" * 40),
            internal=True,
        )
        services.update_ticket(ticket=full, actor=company.agent, priority="urgent")
        resolved = tickets[5]
        services.update_ticket(ticket=resolved, actor=company.agent, assignee=company.agent)
        services.transition_ticket(
            ticket=resolved, actor=company.agent, status=Status.RESOLVED, comment="已修好"
        )
        closed = tickets[9]
        services.update_ticket(ticket=closed, actor=company.agent, assignee=company.agent2)
        services.transition_ticket(ticket=closed, actor=company.agent2, status=Status.RESOLVED)
        services.transition_ticket(ticket=closed, actor=closed.requester, status=Status.CLOSED)
        ratings.rate_ticket(
            user=closed.requester, ticket=closed, score=4, end_score=5, comment="很好"
        )
        ratings.give_kudos(
            giver=closed.requester, ticket=closed, agent=company.agent2, message="谢谢"
        )
        Ticket.objects.filter(pk__in=[tickets[12].pk, tickets[16].pk]).update(
            response_breached=True
        )
        fin = services.file_ticket(
            requester=company.requester, service=finance_service, title="报销单", priority="high"
        )
    for number in range(3):
        Notification.objects.create(
            user=company.requester,
            ticket=full,
            kind="comment",
            message=f"通知 {number}",
            source_key=f"matrix:{number}",
        )
    return {
        "both": both,
        "named": named,
        "new": tickets[0],
        "full": full,
        "waiting": tickets[2],
        "cancelled": tickets[3],
        "resolved": resolved,
        "closed": closed,
        "finance": fin,
        "printer": printer,
    }


def queue_paths(company, desk) -> list[str]:
    paths = [
        "/queue/",
        "/queue/?sort=created",
        "/queue/?sort=priority",
        "/queue/?sort=response_due",
        "/queue/?status=waiting&status=in_progress",
        "/queue/?priority=high",
        f"/queue/?service={desk['printer'].pk}",
        "/queue/?assignee=me",
        "/queue/?assignee=unassigned",
        f"/queue/?assignee={company.agent2.pk}",
        "/queue/?breached=yes",
        "/queue/?breached=no&sort=created",
        "/queue/?status=nonsense&priority=extreme&service=abc&sort=random&after=zz~x",
        "/queue/?status=cancelled&status=closed&status=resolved",
    ]
    return paths


def next_pages(client, path: str, language: str) -> list[str]:
    """The first page's `rel="next"` link, and the one after it."""
    found = []
    for _ in range(2):
        text = client.get(path, HTTP_ACCEPT_LANGUAGE=language).content.decode()
        link = re.search(r'<a href="\?([^"]+)" rel="next">', text)
        if not link:
            break
        path = "/queue/?" + link.group(1).replace("&amp;", "&")
        found.append(path)
    return found


def test_pages_render_as_recorded(client, company):
    directory = Path(SNAPSHOTS)
    directory.mkdir(parents=True, exist_ok=True)
    recording = not any(directory.iterdir())
    with time_machine.travel(FILED - timedelta(days=1), tick=False):
        desk = build_desk(company)
    viewers = {
        "agent": company.agent,
        "agent2": company.agent2,
        "head": company.it_head,
        "both": desk["both"],
        "requester": company.requester,
        "named": desk["named"],
        "hrhead": company.hr_head,
        "finance": company.finance_agent,
        "other": company.other_employee,
    }
    ticket_names = ("new", "full", "waiting", "cancelled", "resolved", "closed", "finance")
    pages: dict[str, str] = {}
    differences: list[str] = []
    with time_machine.travel(SHOWN, tick=False):
        for rendering in ("cold", "warm"):
            for language in LANGUAGES:
                for who, user in viewers.items():
                    client.force_login(user)
                    paths = queue_paths(company, desk)
                    paths += next_pages(client, "/queue/", language)
                    paths += next_pages(client, "/queue/?sort=priority", language)
                    if who == "both":
                        paths += [
                            f"/queue/?department={company.finance.pk}",
                            f"/queue/?department={company.hr.pk}",
                        ]
                    paths += [f"/tickets/{desk[name].reference}/" for name in ticket_names]
                    paths += [f"/tickets/{desk['full'].reference}/clocks/"]
                    requests = [(path, {}) for path in paths]
                    requests += [("/queue/?sort=created", {"HTTP_HX_REQUEST": "true"})]
                    for path, headers in requests:
                        response = client.get(path, HTTP_ACCEPT_LANGUAGE=language, **headers)
                        text = f"{response.status_code}\n{normalised(response.content.decode())}"
                        name = re.sub(r"[^A-Za-z0-9._=-]+", "_", f"{who}-{language}-{path}")
                        name += "-htmx" if headers else ""
                        if rendering == "warm":
                            if pages[name] != text:
                                differences.append(f"{name}: warm rendering differs from cold")
                            continue
                        pages[name] = text
        # A page with a message in its header: after a reply, on the redirect's page.
        client.force_login(company.agent)
        reference = desk["full"].reference
        client.post(f"/tickets/{reference}/reply/", {"body": "好的"}, HTTP_ACCEPT_LANGUAGE="en")
        response = client.get(f"/tickets/{reference}/", HTTP_ACCEPT_LANGUAGE="en")
        pages["agent-after-reply"] = (
            f"{response.status_code}\n{normalised(response.content.decode())}"
        )
    assert len(pages) > 400
    for name, text in pages.items():
        file = directory / f"{name}.html"
        if recording:
            file.write_text(text)
            continue
        if not file.exists():
            differences.append(f"{name}: not recorded")
            continue
        recorded = file.read_text()
        if recorded != text:
            diff = difflib.unified_diff(
                recorded.splitlines(), text.splitlines(), "recorded", "now", lineterm="", n=1
            )
            differences.append(f"{name}:\n" + "\n".join(list(diff)[:30]))
    assert not differences, "\n".join(differences[:20]) + f"\n({len(differences)} pages differ)"
