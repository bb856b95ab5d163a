"""Survey scoring by the published methods, with no Django: SERVQUAL gaps and KANO classes.

SERVQUAL (Parasuraman, Zeithaml & Berry 1988): each item is answered with an expectation and a
perception on a 1–7 scale; the gap is perception − expectation, averaged per item and per
dimension (a dimension's figures are the mean over its items' answers).

KANO (Kano et al. 1984; Berger et al. 1993): a functional and a dysfunctional answer per
feature are classified with the standard evaluation table; the feature's category is the most
frequent class, and the customer satisfaction coefficients are
better = (A + O) / (A + O + M + I) and worse = −(O + M) / (A + O + M + I).
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

DIMENSIONS = ("tangibles", "reliability", "responsiveness", "assurance", "empathy")
SCALE = range(1, 8)

# Fewer respondents than this in any group (the campaign included) and its scores are withheld.
MIN_GROUP_SIZE = 5

KANO_ANSWERS = ("like", "must_be", "neutral", "live_with", "dislike")
KANO_CATEGORIES = ("A", "O", "M", "I", "R", "Q")
# When two categories are equally frequent, the one that matters more for the provider wins.
KANO_TIE_ORDER = ("M", "O", "A", "I", "R", "Q")

# Rows: functional answer; columns: dysfunctional answer, both in KANO_ANSWERS order.
_KANO_TABLE = {
    "like": ("Q", "A", "A", "A", "O"),
    "must_be": ("R", "I", "I", "I", "M"),
    "neutral": ("R", "I", "I", "I", "M"),
    "live_with": ("R", "I", "I", "I", "M"),
    "dislike": ("R", "R", "R", "R", "Q"),
}


def kano_category(functional: str, dysfunctional: str) -> str:
    """The class of one answer pair by the Kano evaluation table."""
    try:
        return _KANO_TABLE[functional][KANO_ANSWERS.index(dysfunctional)]
    except (KeyError, ValueError):
        raise ValueError(f"not a Kano answer pair: {functional!r}, {dysfunctional!r}") from None


@dataclass(frozen=True)
class KanoResult:
    counts: dict[str, int]
    category: str | None
    better: float | None
    worse: float | None


def kano_result(pairs: Iterable[tuple[str, str]]) -> KanoResult:
    """Counts per class, the dominant class and the better/worse coefficients of one feature."""
    tally = Counter(kano_category(functional, dysfunctional) for functional, dysfunctional in pairs)
    counts = {category: tally.get(category, 0) for category in KANO_CATEGORIES}
    return kano_from_counts(counts)


def kano_from_counts(counts: dict[str, int]) -> KanoResult:
    counts = {category: int(counts.get(category, 0)) for category in KANO_CATEGORIES}
    top = max(counts.values(), default=0)
    category = (
        next(category for category in KANO_TIE_ORDER if counts[category] == top) if top else None
    )
    base = counts["A"] + counts["O"] + counts["M"] + counts["I"]
    if base == 0:
        return KanoResult(counts, category, None, None)
    better = (counts["A"] + counts["O"]) / base
    worse = -(counts["O"] + counts["M"]) / base
    return KanoResult(counts, category, better, worse)


@dataclass(frozen=True)
class GapScore:
    expectation: float
    perception: float
    gap: float


def gap_score(expectations: Iterable[int], perceptions: Iterable[int]) -> GapScore | None:
    """Mean expectation, mean perception and their gap (perception − expectation)."""
    expectation_list, perception_list = list(expectations), list(perceptions)
    if not expectation_list or len(expectation_list) != len(perception_list):
        return None
    expectation = sum(expectation_list) / len(expectation_list)
    perception = sum(perception_list) / len(perception_list)
    return GapScore(expectation, perception, perception - expectation)


def servqual_gaps(
    answers: Iterable[tuple[str, str, int, int]],
) -> tuple[dict[str, GapScore], dict[str, GapScore]]:
    """Per-dimension and per-item gaps from (item, dimension, expectation, perception) rows.

    A dimension's scores are the mean over all answers to its items (items weigh by answers)."""
    by_item: dict[str, tuple[list[int], list[int]]] = {}
    by_dimension: dict[str, tuple[list[int], list[int]]] = {}
    for item, dimension, expectation, perception in answers:
        for bucket, key in ((by_item, item), (by_dimension, dimension)):
            expectations, perceptions = bucket.setdefault(key, ([], []))
            expectations.append(expectation)
            perceptions.append(perception)
    items = {key: gap_score(*values) for key, values in by_item.items()}
    dimensions = {key: gap_score(*values) for key, values in by_dimension.items()}
    return (
        {key: score for key, score in dimensions.items() if score is not None},
        {key: score for key, score in items.items() if score is not None},
    )


def suppressed(respondents: int) -> bool:
    """True when a group is too small to show without exposing individuals."""
    return respondents < MIN_GROUP_SIZE
