"""Stored XSS: a payload (<script>, <img onerror>, <svg onload>, a javascript: link) in every
text field people type is shown as text on every page that shows it and in the emails; no
page carries executable markup from it (parsed HTML: no inline script, no on* attribute, no
javascript: URL)."""

import pytest
from django.core import mail
from django.test import Client

from tests.conftest import Company
from tests.security.xss import SCRIPT, Planted, plant, scan
from tickets import notifications
from tickets.models import TicketEvent

pytestmark = pytest.mark.django_db

# Who looks at which page (each viewer sees the pages of their role).
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
    "agent": ["/queue/", "/tickets/{reference}/", "/tickets/{rated}/"],
    "it_head": [
        "/dashboard/",
        "/dashboard/?department={it}",
        "/map/",
        "/actions/",
        "/suggestions/",
        "/tickets/{reference}/",
        "/surveys/",
        "/surveys/{survey}/results/",
    ],
}
# Fields that some page must show (the internal note only to the provider side).
MUST_SHOW = {
    "XSS-dept-it",
    "XSS-dept-hr",
    "XSS-first-requester",
    "XSS-last-requester",
    "XSS-first-agent",
    "XSS-last-agent",
    "XSS-form-label",
    "XSS-form-value",
    "XSS-service-name",
    "XSS-service-description",
    "XSS-service-category",
    "XSS-ticket-title",
    "XSS-ticket-description",
    "XSS-comment",
    "XSS-note",
    "XSS-filename",
    "XSS-notification",
    "XSS-suggestion-title",
    "XSS-suggestion-body",
    "XSS-suggestion-answer",
    "XSS-rating-comment",
    "XSS-kudos",
    "XSS-survey-title",
    "XSS-survey-item",
    "XSS-action-title",
    "XSS-action-metric",
}


@pytest.fixture
def planted(company: Company) -> Planted:
    return plant(company)


def urls_for(planted: Planted, company: Company, templates: list[str]) -> list[str]:
    from feedback.models import Survey
    from tickets.models import Ticket

    survey = Survey.objects.get(provider_department=company.it)
    rated = Ticket.objects.get(title="rated")
    values = {
        "service": company.service.pk,
        "reference": planted.ticket.reference,
        "rated": rated.reference,
        "survey": survey.pk,
        "it": company.it.pk,
    }
    return [template.format(**values) for template in templates]


def test_no_page_runs_a_stored_payload_and_every_field_is_shown_as_text(
    company: Company, planted: Planted
) -> None:
    shown: set[str] = set()
    problems: list[str] = []
    for who, templates in PAGES.items():
        client = Client(headers={"accept-language": "en"})
        client.force_login(getattr(company, who))
        for url in urls_for(planted, company, templates):
            response = client.get(url)
            if response.status_code == 404 and url.startswith(("/surveys/", "/actions/")):
                problems.append(f"{who} {url}: 404")
                continue
            assert response.status_code == 200, (who, url, response.status_code)
            html = response.content.decode()
            findings, text = scan(html)
            problems += [f"{who} {url}: {finding}" for finding in findings]
            assert SCRIPT not in html, (who, url)
            shown |= {marker for marker in planted.markers if marker in text}
    assert problems == []
    assert sorted(MUST_SHOW - shown) == []


def test_partials_swapped_in_by_htmx_escape_the_payload(company: Company, planted: Planted) -> None:
    for who, url in (
        ("agent", f"/tickets/{planted.ticket.reference}/clocks/"),
        ("agent", "/queue/?q=XSS"),
        ("agent", "/catalog/?q=XSS"),
        ("it_head", f"/map/edge/?consumer={company.hr.pk}&provider={company.it.pk}"),
    ):
        client = Client(headers={"accept-language": "en", "hx-request": "true"})
        client.force_login(getattr(company, who))
        response = client.get(url)
        assert response.status_code in (200, 204), (url, response.status_code)
        findings, _text = scan(response.content.decode())
        assert findings == [], url


def test_reply_form_errors_echo_the_payload_escaped(company: Company, planted: Planted) -> None:
    client = Client(headers={"accept-language": "en"})
    client.force_login(company.requester)
    # A refused reply (an attachment of a wrong type) shows the page again with what was typed.
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        f"/tickets/{planted.ticket.reference}/reply/",
        {
            "body": SCRIPT + "<img src=x onerror=__xss=1>",
            "attachment": SimpleUploadedFile("x.png", b"not a png"),
        },
    )
    assert response.status_code == 400
    findings, _text = scan(response.content.decode())
    assert findings == []


def test_emails_carry_the_payload_as_plain_text_only(company: Company, planted: Planted) -> None:
    mail.outbox.clear()
    for event in TicketEvent.objects.filter(ticket=planted.ticket):
        notifications.send_event_email(event.pk)
    assert mail.outbox, "no ticket email was sent"
    for message in mail.outbox:
        # Plain text mail: the text is what people read, no HTML part a client would render.
        assert message.content_subtype == "plain"
        assert not getattr(message, "alternatives", [])
        assert "XSS-ticket-title" in message.subject
        assert "\n" not in message.subject
    bodies = "\n".join(message.body for message in mail.outbox)
    assert "XSS-comment" in bodies
    assert "XSS-note" not in bodies  # internal notes are never mailed
