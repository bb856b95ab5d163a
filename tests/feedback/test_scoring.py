"""SERVQUAL gaps and KANO classification by the published methods (plain tests, no database).

SERVQUAL: Parasuraman, Zeithaml & Berry (1988): gap = perception − expectation, averaged per item
and per dimension. KANO: the evaluation table of Berger et al. (1993), "Kano's methods for
understanding customer-defined quality", Center for Quality Management Journal 2(4), Table 1;
customer satisfaction coefficients better = (A+O)/(A+O+M+I), worse = −(O+M)/(A+O+M+I).
"""

import pytest

from feedback.scoring import (
    MIN_GROUP_SIZE,
    gap_score,
    kano_category,
    kano_from_counts,
    kano_result,
    servqual_gaps,
    suppressed,
)

# The published table, written out row by row (functional answer) and column by column
# (dysfunctional answer), both in the order like, must-be, neutral, live-with, dislike.
PUBLISHED_KANO_TABLE = {
    ("like", "like"): "Q",
    ("like", "must_be"): "A",
    ("like", "neutral"): "A",
    ("like", "live_with"): "A",
    ("like", "dislike"): "O",
    ("must_be", "like"): "R",
    ("must_be", "must_be"): "I",
    ("must_be", "neutral"): "I",
    ("must_be", "live_with"): "I",
    ("must_be", "dislike"): "M",
    ("neutral", "like"): "R",
    ("neutral", "must_be"): "I",
    ("neutral", "neutral"): "I",
    ("neutral", "live_with"): "I",
    ("neutral", "dislike"): "M",
    ("live_with", "like"): "R",
    ("live_with", "must_be"): "I",
    ("live_with", "neutral"): "I",
    ("live_with", "live_with"): "I",
    ("live_with", "dislike"): "M",
    ("dislike", "like"): "R",
    ("dislike", "must_be"): "R",
    ("dislike", "neutral"): "R",
    ("dislike", "live_with"): "R",
    ("dislike", "dislike"): "Q",
}


def test_published_table_has_all_25_answer_pairs():
    assert len(PUBLISHED_KANO_TABLE) == 25


@pytest.mark.parametrize(("pair", "expected"), sorted(PUBLISHED_KANO_TABLE.items()))
def test_kano_category_follows_the_published_evaluation_table(pair, expected):
    functional, dysfunctional = pair
    assert kano_category(functional, dysfunctional) == expected


def test_kano_category_refuses_an_answer_outside_the_five_options():
    with pytest.raises(ValueError):
        kano_category("love", "dislike")
    with pytest.raises(ValueError):
        kano_category("like", "")


def test_better_and_worse_coefficients_on_a_hand_computed_sample():
    # 6 attractive, 4 one-dimensional, 3 must-be, 5 indifferent, 1 reverse, 1 questionable.
    # A+O+M+I = 6+4+3+5 = 18 (R and Q are left out of the base).
    # better = (A+O)/18 = 10/18 = 0.5556; worse = −(O+M)/18 = −7/18 = −0.3889.
    result = kano_from_counts({"A": 6, "O": 4, "M": 3, "I": 5, "R": 1, "Q": 1})
    assert result.category == "A"  # the most frequent class
    assert result.better == pytest.approx(10 / 18)
    assert result.worse == pytest.approx(-7 / 18)
    assert round(result.better, 2) == 0.56
    assert round(result.worse, 2) == -0.39


def test_kano_result_classifies_each_pair_then_counts():
    pairs = [
        ("like", "dislike"),  # O
        ("like", "dislike"),  # O
        ("like", "neutral"),  # A
        ("must_be", "dislike"),  # M
        ("neutral", "neutral"),  # I
        ("dislike", "like"),  # R
    ]
    result = kano_result(pairs)
    assert result.counts == {"A": 1, "O": 2, "M": 1, "I": 1, "R": 1, "Q": 0}
    assert result.category == "O"
    # base = A+O+M+I = 5; better = (1+2)/5 = 0.6; worse = −(2+1)/5 = −0.6
    assert result.better == pytest.approx(0.6)
    assert result.worse == pytest.approx(-0.6)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"M": 2, "O": 2, "A": 2, "I": 2, "R": 2, "Q": 2}, "M"),  # all tied: M first
        ({"O": 3, "A": 3, "I": 1}, "O"),  # O before A
        ({"A": 2, "I": 2, "R": 1}, "A"),  # A before I
        ({"I": 4, "R": 4}, "I"),  # I before R
        ({"R": 1, "Q": 1}, "R"),  # R before Q
        ({"Q": 1}, "Q"),
        ({"M": 1, "A": 3}, "A"),  # no tie: the most frequent wins
    ],
)
def test_kano_ties_resolve_must_be_first_then_one_dimensional_attractive_indifferent(
    counts, expected
):
    assert kano_from_counts(counts).category == expected


def test_kano_without_answers_has_no_category_and_no_coefficients():
    result = kano_from_counts({})
    assert result.category is None
    assert result.better is None and result.worse is None


def test_only_reverse_or_questionable_answers_leave_the_coefficients_undefined():
    result = kano_from_counts({"R": 3, "Q": 1})
    assert result.category == "R"
    assert result.better is None and result.worse is None


def test_servqual_gap_averages_per_dimension_and_item_on_a_hand_computed_set():
    rows = [
        # (item, dimension, expectation, perception)
        ("tangibles_1", "tangibles", 5, 4),
        ("tangibles_1", "tangibles", 6, 6),
        ("tangibles_2", "tangibles", 7, 5),
        ("reliability_1", "reliability", 7, 3),
        ("reliability_1", "reliability", 6, 4),
        ("empathy_1", "empathy", 4, 6),
    ]
    dimensions, items = servqual_gaps(rows)
    # tangibles: E = (5+6+7)/3 = 6; P = (4+6+5)/3 = 5; gap = 5 − 6 = −1
    assert dimensions["tangibles"].expectation == pytest.approx(6)
    assert dimensions["tangibles"].perception == pytest.approx(5)
    assert dimensions["tangibles"].gap == pytest.approx(-1)
    # reliability: E = (7+6)/2 = 6.5; P = (3+4)/2 = 3.5; gap = −3
    assert dimensions["reliability"].gap == pytest.approx(-3)
    assert dimensions["reliability"].expectation == pytest.approx(6.5)
    # empathy: perception above expectation is a positive gap: 6 − 4 = +2
    assert dimensions["empathy"].gap == pytest.approx(2)
    assert set(dimensions) == {"tangibles", "reliability", "empathy"}
    # tangibles_1 alone: E = (5+6)/2 = 5.5; P = (4+6)/2 = 5; gap = −0.5
    assert items["tangibles_1"].expectation == pytest.approx(5.5)
    assert items["tangibles_1"].gap == pytest.approx(-0.5)
    # tangibles_2: 5 − 7 = −2
    assert items["tangibles_2"].gap == pytest.approx(-2)


def test_a_dimension_weighs_its_items_by_answers_not_by_item():
    # Item x answered 3 times with gap −2, item y once with gap +2 (same dimension):
    # per answer: (−2·3 + 2·1)/4 = −1, not the mean of item means (0).
    rows = [("x", "empathy", 6, 4)] * 3 + [("y", "empathy", 4, 6)]
    dimensions, _items = servqual_gaps(rows)
    assert dimensions["empathy"].gap == pytest.approx(-1)


def test_gap_score_needs_paired_answers():
    assert gap_score([], []) is None
    assert gap_score([5, 6], [4]) is None
    score = gap_score([7, 5], [6, 6])
    assert (score.expectation, score.perception, score.gap) == (6, 6, 0)


def test_groups_smaller_than_five_are_suppressed():
    assert MIN_GROUP_SIZE == 5
    assert suppressed(4) is True
    assert suppressed(0) is True
    assert suppressed(5) is False
