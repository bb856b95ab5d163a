"""Stored-XSS fixtures shared by the HTML and the browser checks: a payload in every text field
people type, and a parser that finds executable markup in a page."""

from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from departments.models import Department, User
from feedback.models import (
    ImprovementAction,
    Kudos,
    Suggestion,
    Survey,
    SurveyInvitation,
    SurveyItem,
    TicketRating,
)
from tests.conftest import Company
from tickets import services
from tickets.models import Attachment, Notification, Service, Status, Ticket

SCRIPT = "<script>__xss=1</script>"
VECTORS = (
    '">' + SCRIPT,
    "<img src=x onerror=__xss=1>",
    "<svg onload=__xss=1>",
    '<a href="javascript:__xss=1">x</a>',
)


def payload(marker: str, limit: int = 500) -> str:
    """`marker` (so a page can be seen to show the field) and as many vectors as fit."""
    text = marker
    for vector in VECTORS:
        if len(text) + len(vector) <= limit:
            text += vector
    return text


@dataclass
class Planted:
    ticket: Ticket
    markers: set[str] = field(default_factory=set)

    def value(self, marker: str, limit: int = 500) -> str:
        self.markers.add(marker)
        return payload(marker, limit)


def plant(company: Company) -> Planted:
    """Every user-typed text field carries a payload with its own marker (XSS-<field>)."""
    planted = Planted(ticket=None)  # type: ignore[arg-type]
    v = planted.value
    for department, marker in ((company.it, "XSS-dept-it"), (company.hr, "XSS-dept-hr")):
        Department.objects.filter(pk=department.pk).update(name=v(marker, 100))
    for user, who in ((company.requester, "requester"), (company.agent, "agent")):
        User.objects.filter(pk=user.pk).update(
            first_name=v(f"XSS-first-{who}", 150), last_name=v(f"XSS-last-{who}", 150)
        )
    schema = [
        *company.service.form_schema,
        {"key": "note", "label": v("XSS-form-label", 200), "type": "text", "required": False},
    ]
    Service.objects.filter(pk=company.service.pk).update(
        name=v("XSS-service-name", 200),
        description=v("XSS-service-description"),
        category=v("XSS-service-category", 100),
        form_schema=schema,
    )
    service = Service.objects.get(pk=company.service.pk)
    requester = User.objects.get(pk=company.requester.pk)
    agent = User.objects.get(pk=company.agent.pk)
    ticket = services.file_ticket(
        requester=requester,
        service=service,
        title=v("XSS-ticket-title", 200),
        description=v("XSS-ticket-description"),
        form_data={"model": "14寸", "note": v("XSS-form-value", 200)},
    )
    services.transition_ticket(ticket=ticket, actor=agent, status=Status.IN_PROGRESS)
    services.add_comment(
        ticket=ticket,
        author=agent,
        body=v("XSS-comment") + "\n\n[click me](javascript:__xss=1) <b onclick=__xss=1>b</b>",
        internal=False,
    )
    services.add_comment(ticket=ticket, author=agent, body=v("XSS-note"), internal=True)
    attachment = services.add_attachment(
        ticket=ticket,
        uploaded_by=requester,
        upload=SimpleUploadedFile("notes.txt", b"plain", "text/plain"),
    )
    # Names with markup never pass the upload check; an old row or an import might hold one.
    Attachment.objects.filter(pk=attachment.pk).update(filename=v("XSS-filename", 255))
    Notification.objects.create(
        user=requester,
        ticket=ticket,
        kind="test",
        message=v("XSS-notification"),
        url=f"/tickets/{ticket.reference}/",
        source_key="xss:1",
    )
    _plant_feedback(planted, company, ticket, requester, agent)
    planted.ticket = Ticket.objects.get(pk=ticket.pk)
    return planted


def _plant_feedback(
    planted: Planted, company: Company, ticket: Ticket, requester: User, agent: User
) -> None:
    v = planted.value
    now = timezone.now()
    Suggestion.objects.create(
        department=company.it,
        title=v("XSS-suggestion-title", 200),
        body=v("XSS-suggestion-body"),
        anonymous=False,
        author=requester,
        answer=v("XSS-suggestion-answer"),
        created_on=timezone.localdate(),
    )
    rated = services.file_ticket(
        requester=requester,
        service=Service.objects.get(pk=company.service.pk),
        title="rated",
        description="",
        form_data={"model": "14寸"},
    )
    Ticket.objects.filter(pk=rated.pk).update(
        status=Status.RESOLVED, assignee=agent, resolved_at=now
    )
    TicketRating.objects.create(
        ticket=rated,
        provider_department=company.it,
        agent=agent,
        score=2,
        end_score=2,
        comment=v("XSS-rating-comment"),
        created_at=now,
        updated_at=now,
    )
    Kudos.objects.create(
        ticket=rated,
        agent=agent,
        giver=requester,
        department=company.it,
        message=v("XSS-kudos"),
        created_at=now,
    )
    survey = Survey.objects.create(
        kind=Survey.Kind.SERVQUAL,
        title=v("XSS-survey-title", 200),
        provider_department=company.it,
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=7),
        state=Survey.State.OPEN,
        opened_at=now - timedelta(days=1),
        created_by=company.it_head,
    )
    survey.audience_departments.set([company.hr])
    SurveyItem.objects.create(
        survey=survey,
        key="tangibles1",
        position=0,
        dimension="tangibles",
        text=v("XSS-survey-item"),
    )
    _invite(survey, requester)
    ImprovementAction.objects.create(
        department=company.it,
        title=v("XSS-action-title", 200),
        description=v("XSS-action-description"),
        owner=company.it_head,
        source_type=ImprovementAction.Source.SUGGESTION,
        source_id=Suggestion.objects.get(department=company.it).pk,
        metric=v("XSS-action-metric", 200),
    )


def _invite(survey: Survey, user: User) -> None:
    SurveyInvitation.objects.get_or_create(
        survey=survey, user=user, defaults={"invited_at": timezone.now()}
    )


class ExecutableMarkup(HTMLParser):
    """Collects what would run in a browser: scripts, on* handlers, javascript: URLs, frames."""

    URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "xlink:href", "data"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.findings: list[str] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("iframe", "object", "embed", "frame"):
            self.findings.append(f"<{tag}>")
        if tag == "script":
            self._in_script = True
            src = dict(attrs).get("src") or ""
            if not src.startswith("/static/"):
                self.findings.append(f"<script src={src!r}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.findings.append(f"<{tag} {name}={value!r}>")
            if name in self.URL_ATTRIBUTES and value:
                scheme = "".join(value.split()).lower()
                if scheme.startswith(("javascript:", "vbscript:", "data:text/html")):
                    self.findings.append(f"<{tag} {name}={value!r}>")

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.findings.append(f"inline script: {data.strip()[:80]!r}")
        self.text.append(data)


def scan(html: str) -> tuple[list[str], str]:
    """(executable markup found, the page's visible text)."""
    parser = ExecutableMarkup()
    parser.feed(html)
    parser.close()
    return parser.findings, "".join(parser.text)
