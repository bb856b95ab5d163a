"""The ticket status machine: the one table of allowed transitions and who may make them.

Services ask it before changing a status, pages ask it which buttons to show, and the API
turns its refusal into HTTP 409 `invalid_transition`.
"""

from dataclasses import dataclass

from .models import Status

REQUESTER = "requester"
AGENT = "agent"  # an agent of the provider department (heads act as agents too)
HEAD = "head"  # a head of the provider department
SYSTEM = "system"  # automatic moves: a requester's reply, auto-close after N business days

OPEN = (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING)


@dataclass(frozen=True)
class Rule:
    sources: tuple[str, ...]
    target: str
    actors: frozenset[str]


RULES: tuple[Rule, ...] = (
    Rule((Status.NEW,), Status.ASSIGNED, frozenset({AGENT, HEAD})),
    Rule((Status.NEW, Status.ASSIGNED), Status.IN_PROGRESS, frozenset({AGENT, HEAD})),
    Rule((Status.ASSIGNED, Status.IN_PROGRESS), Status.WAITING, frozenset({AGENT, HEAD})),
    Rule((Status.WAITING,), Status.IN_PROGRESS, frozenset({AGENT, HEAD, SYSTEM})),
    Rule(OPEN, Status.RESOLVED, frozenset({AGENT, HEAD})),
    Rule((Status.RESOLVED,), Status.IN_PROGRESS, frozenset({REQUESTER, AGENT, HEAD})),
    Rule((Status.RESOLVED,), Status.CLOSED, frozenset({REQUESTER, SYSTEM})),
    Rule(OPEN, Status.CANCELLED, frozenset({REQUESTER, HEAD})),
)


def is_allowed(source: str, target: str, actor_roles: set[str] | frozenset[str]) -> bool:
    """True if an actor holding any of `actor_roles` may move a ticket from source to target."""
    return any(
        source in rule.sources and rule.target == target and rule.actors & actor_roles
        for rule in RULES
    )


def is_edge(source: str, target: str) -> bool:
    """True if the table has the move at all, whoever makes it."""
    return any(source in rule.sources and rule.target == target for rule in RULES)


def allowed_targets(source: str, actor_roles: set[str] | frozenset[str]) -> list[str]:
    """The statuses an actor may move a ticket to from `source`, in table order, without repeats."""
    seen: list[str] = []
    for rule in RULES:
        if source in rule.sources and rule.actors & actor_roles and rule.target not in seen:
            seen.append(rule.target)
    return seen
