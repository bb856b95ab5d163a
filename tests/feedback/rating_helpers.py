"""Shared set-up for the rating and kudos tests: tickets moved through the real services."""

from tickets import services
from tickets.models import Status, Ticket


def filed_ticket(company, title: str = "笔记本电脑坏了") -> Ticket:
    return services.file_ticket(
        requester=company.requester,
        service=company.service,
        title=title,
        form_data={"model": "14寸"},
    )


def resolved_ticket(company, title: str = "笔记本电脑坏了") -> Ticket:
    """Filed by `requester` (HR), started and resolved by `agent` (IT)."""
    ticket = filed_ticket(company, title)
    services.transition_ticket(ticket=ticket, actor=company.agent, status=Status.IN_PROGRESS)
    services.add_comment(ticket=ticket, author=company.agent, body="已经换了新电池")
    return services.transition_ticket(ticket=ticket, actor=company.agent, status=Status.RESOLVED)


def closed_ticket(company) -> Ticket:
    ticket = resolved_ticket(company)
    return services.transition_ticket(ticket=ticket, actor=company.requester, status=Status.CLOSED)


GOOD = {
    "score": 4,
    "best_moment": "expertise",
    "worst_moment": "speed",
    "end_score": 5,
    "comment": "修得很快，谢谢",
}
