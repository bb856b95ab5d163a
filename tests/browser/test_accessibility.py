"""Every page's form controls have a label, charts carry a text alternative, and the keyboard
reaches the main content first (skip link)."""

import pytest

from tickets import services

pytestmark = pytest.mark.django_db(transaction=True)

UNLABELLED = """
els => els.filter(el => el.type !== 'hidden' && el.type !== 'submit'
                   && !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                   && !el.getAttribute('aria-labelledby'))
          .map(el => el.outerHTML.slice(0, 120))
"""


@pytest.mark.parametrize(
    ("username", "paths"),
    [
        (
            "requester",
            [
                "/",
                "/catalog/",
                "/requests/",
                "/notifications/",
                "/tickets/{ref}/",
                "/catalog/{service}/request/",
            ],
        ),
        ("agent", ["/queue/", "/tickets/{ref}/"]),
        ("ithead", ["/dashboard/", "/map/"]),
    ],
)
def test_controls_are_labelled_and_charts_described(
    page, live_server, company, sign_in, username, paths
):
    ticket = services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="键盘失灵",
        form_data={"model": "14寸"},
    )
    sign_in(page, username, language="en")
    for path in paths:
        page.goto(live_server.url + path.format(ref=ticket.reference, service=company.service.pk))
        missing = page.locator("input, select, textarea").evaluate_all(UNLABELLED)
        assert missing == [], (path, missing)
        for svg in page.locator("svg[role=img], svg[role=group]").all():
            assert svg.locator("title").count() >= 1, path
        # The first Tab stop is the skip link to the content.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.getAttribute('href')") == "#main", path
