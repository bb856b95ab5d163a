"""In real Chromium: stored payloads never run (window.__xss stays undefined) on the pages that
show them, and the Content-Security-Policy breaks nothing: no console error about it on any
page, the language switch and htmx polling still work."""

import pytest
from playwright.sync_api import expect

from tests.security.xss import plant

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = {
    "requester": [
        "/",
        "/catalog/",
        "/catalog/{service}/request/",
        "/requests/",
        "/tickets/{reference}/",
        "/notifications/",
        "/surveys/",
        "/surveys/{survey}/",
        "/suggestions/",
    ],
    "agent": ["/queue/", "/tickets/{reference}/"],
    "ithead": ["/dashboard/", "/map/", "/actions/", "/surveys/{survey}/results/"],
}


def watch(page) -> list[str]:
    """Console errors, failed scripts and CSP violations seen on the page."""
    problems: list[str] = []
    page.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" or "Content Security Policy" in message.text
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    # Listens from the first byte of every document (init scripts are not subject to the CSP).
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    return problems


def test_payloads_do_not_run_and_the_csp_breaks_no_page(
    browser, live_server, company, sign_in, shoot
):
    planted = plant(company)
    from feedback.models import Survey

    survey = Survey.objects.get(provider_department=company.it)
    values = {
        "service": company.service.pk,
        "reference": planted.ticket.reference,
        "survey": survey.pk,
    }
    login = browser.new_context().new_page()
    login_problems = watch(login)
    login.goto(f"{live_server.url}/accounts/login/")
    assert login_problems == []
    for username, templates in PAGES.items():
        page = browser.new_context().new_page()
        problems = watch(page)
        sign_in(page, username)
        for template in templates:
            url = template.format(**values)
            response = page.goto(f"{live_server.url}{url}")
            assert response is not None and response.status == 200, (username, url)
            page.wait_for_load_state("networkidle")
            assert page.evaluate("typeof window.__xss") == "undefined", (username, url)
            assert problems == [], (username, url, problems)
        if username == "agent":
            page.goto(f"{live_server.url}/tickets/{planted.ticket.reference}/")
            # The title shows as text, the comment's markup as text, its javascript: link gone.
            expect(page.locator("h1")).to_contain_text("XSS-ticket-title")
            assert page.locator("a[href^='javascript']").count() == 0
            assert page.locator("[onerror], [onload], [onclick]").count() == 0
            shoot(page, "xss-ticket-page", "en")
            page.goto(f"{live_server.url}/queue/")
            expect(page.locator("body")).to_contain_text("XSS-ticket-title")
            shoot(page, "xss-queue", "en")
            # The language switch (a script file now, no inline handler) still submits.
            page.select_option("#lang", "zh-hans")
            page.wait_for_load_state()
            expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
            assert page.evaluate("typeof window.__xss") == "undefined"
            assert problems == [], problems
        page.context.close()
