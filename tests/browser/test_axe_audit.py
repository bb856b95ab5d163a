"""An automated WCAG 2.1 A/AA audit (axe-core, through axe-playwright-python) of every page, as
each kind of user sees it, in both languages and at desktop and phone width; a screenshot of each
(artifacts/screenshots/page-<user>-<page>-<language>-<width>.png).

axe-core finds what machines can find (contrast, names of controls and links, landmarks, ARIA,
heading order, lang attribute); the keyboard and label checks of test_accessibility.py and the
journeys cover the rest. Every violation axe reports fails the test, whatever its impact.
"""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe

from tickets import services
from tickets.models import Status

pytestmark = pytest.mark.django_db(transaction=True)

WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

PAGES = {
    "requester": [
        "/",
        "/catalog/",
        "/catalog/{service}/request/",
        "/requests/",
        "/tickets/{ref}/",
        "/tickets/{open_ref}/",  # still new: the requester may edit it
        "/notifications/",
        "/surveys/",
        "/suggestions/",
        "/accounts/login/",
    ],
    "agent": ["/queue/", "/tickets/{ref}/", "/tickets/{open_ref}/"],
    "ithead": [
        "/dashboard/",
        "/map/",
        "/map/edge/?consumer={hr}&provider={it}",
        "/actions/",
        "/actions/new/",
        "/suggestions/",
    ],
}


@pytest.fixture
def tickets(company):
    """One ticket resolved with a public reply and an internal note, one still new."""
    resolved = services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="键盘失灵",
        description="F 键按下没有反应。",
        form_data={"model": "14寸"},
    )
    services.transition_ticket(
        ticket=resolved, actor=company.agent, status=Status.IN_PROGRESS, assignee=company.agent
    )
    services.add_comment(ticket=resolved, author=company.agent, body="已更换键盘。")
    services.add_comment(
        ticket=resolved, author=company.agent, body="库存还剩两块。", internal=True
    )
    services.transition_ticket(ticket=resolved, actor=company.agent, status=Status.RESOLVED)
    still_new = services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="显示器闪烁",
        form_data={"model": "14寸"},
    )
    return resolved, still_new


def _describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return "\n".join(lines)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("username", sorted(PAGES))
def test_every_page_passes_an_automated_wcag_aa_audit(
    browser, live_server, company, tickets, sign_in, shoot, username, language
):
    resolved, still_new = tickets
    axe = Axe()
    failures = {}
    audited = 0
    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        sign_in(page, username, language=language)
        for path in PAGES[username]:
            url = path.format(
                ref=resolved.reference,
                open_ref=still_new.reference,
                service=company.service.pk,
                hr=company.hr.pk,
                it=company.it.pk,
            )
            response = page.goto(live_server.url + url)
            assert response is not None and response.status == 200, url
            assert page.evaluate("document.documentElement.lang").lower().startswith(language[:2])
            name = re.sub(r"[^a-z0-9]+", "-", path.split("?")[0].replace("{", "").lower())
            shoot(page, f"page-{username}{name.rstrip('-') or '-home'}", language, width)
            violations = axe.run(page, options=WCAG_AA).response["violations"]
            audited += 1
            if violations:
                failures[f"{url} ({width})"] = _describe(violations)
        context.close()
    assert audited == 2 * len(PAGES[username])
    assert not failures, "\n".join(f"== {key}\n{text}" for key, text in failures.items())
