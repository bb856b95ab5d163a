"""The standard survey wording: SERVQUAL's 22 statements adapted to an internal service
department (Parasuraman, Zeithaml & Berry 1988/1991), and the paired KANO questions.

Items of the default questionnaire are stored with empty texts and shown in the reader's
language through `display_text`; a campaign's own wording, when given, is shown as written.
"""

from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .scoring import DIMENSIONS


@dataclass(frozen=True)
class StandardItem:
    key: str
    dimension: str
    text: Promise


DIMENSION_LABELS: dict[str, Promise] = {
    "tangibles": _("Tangibles"),
    "reliability": _("Reliability"),
    "responsiveness": _("Responsiveness"),
    "assurance": _("Assurance"),
    "empathy": _("Empathy"),
}

KANO_CATEGORY_LABELS: dict[str, Promise] = {
    "A": _("Attractive"),
    "O": _("One-dimensional"),
    "M": _("Must-be"),
    "I": _("Indifferent"),
    "R": _("Reverse"),
    "Q": _("Questionable"),
}

_STANDARD = [
    # Tangibles: the visible side of the service.
    ("tangibles", _("The department uses up-to-date tools and systems to serve you.")),
    ("tangibles", _("Its service channels (portal, service desk, office) are easy to use.")),
    ("tangibles", _("Its staff communicate in a neat and professional way.")),
    ("tangibles", _("Its guides, forms and notices are clear and easy to follow.")),
    # Reliability: doing what was promised, right the first time.
    ("reliability", _("When it promises to do something by a certain time, it does so.")),
    ("reliability", _("When you have a problem, it shows a sincere interest in solving it.")),
    ("reliability", _("It gets the service right the first time.")),
    ("reliability", _("It delivers its services within the agreed service levels.")),
    ("reliability", _("It keeps its records accurate and free of errors.")),
    # Responsiveness: willingness and speed.
    ("responsiveness", _("It tells you exactly when your request will be handled.")),
    ("responsiveness", _("Its staff serve you promptly.")),
    ("responsiveness", _("Its staff are always willing to help you.")),
    ("responsiveness", _("Its staff are never too busy to respond to your requests.")),
    # Assurance: competence, courtesy, trust.
    ("assurance", _("The behaviour of its staff gives you confidence.")),
    ("assurance", _("You feel safe handing your requests and data to it.")),
    ("assurance", _("Its staff are consistently courteous with you.")),
    ("assurance", _("Its staff have the knowledge to answer your questions.")),
    # Empathy: individual care for the internal customer.
    ("empathy", _("It gives you individual attention.")),
    ("empathy", _("Its service hours are convenient for your work.")),
    ("empathy", _("Its staff give you personal attention.")),
    ("empathy", _("It has your department's best interests at heart.")),
    ("empathy", _("Its staff understand your specific needs.")),
]


def _numbered(rows: list[tuple[str, Promise]]) -> tuple[StandardItem, ...]:
    counters = dict.fromkeys(DIMENSIONS, 0)
    items = []
    for dimension, text in rows:
        counters[dimension] += 1
        items.append(StandardItem(f"{dimension}_{counters[dimension]}", dimension, text))
    return tuple(items)


# tangibles_1..4, reliability_1..5, responsiveness_1..4, assurance_1..4, empathy_1..5.
DEFAULT_SERVQUAL_ITEMS: tuple[StandardItem, ...] = _numbered(_STANDARD)
STANDARD_TEXTS: dict[str, Promise] = {item.key: item.text for item in DEFAULT_SERVQUAL_ITEMS}


def _field(item: Any, name: str) -> str:
    value = item.get(name) if isinstance(item, dict) else getattr(item, name, "")
    return value or ""


def display_text(item: Any) -> str:
    """The statement (SERVQUAL) or feature (KANO) of an item, in the active language.

    `item` is a SurveyItem or a dict with the same field names."""
    text = _field(item, "text")
    if text:
        return text
    feature = _field(item, "feature")
    if feature:
        return feature
    standard = STANDARD_TEXTS.get(_field(item, "key"))
    return str(standard) if standard is not None else _field(item, "key")


def kano_functional_text(item: Any) -> str:
    """The functional question: how the respondent feels if the feature is there."""
    return _field(item, "functional") or gettext(
        "How would you feel if the service had this: %(feature)s?"
    ) % {"feature": _field(item, "feature")}


def kano_dysfunctional_text(item: Any) -> str:
    """The dysfunctional question: how the respondent feels if the feature is missing."""
    return _field(item, "dysfunctional") or gettext(
        "How would you feel if the service did not have this: %(feature)s?"
    ) % {"feature": _field(item, "feature")}


def dimension_label(dimension: str) -> str:
    label = DIMENSION_LABELS.get(dimension)
    return str(label) if label is not None else dimension
