import pytest

from textrec.evaluation.metrics import (
    drop_within,
    dtrb_normalize,
    levenshtein,
    normalized_edit_distance,
    score_sample,
)


def test_dtrb_normalisation_is_case_insensitive_alphanumeric():
    assert dtrb_normalize("CHILDREN'S") == "childrens"
    assert dtrb_normalize("Xpressflower.com") == "xpressflowercom"
    assert score_sample("k", "$500", "500", 0.9).correct
    assert not score_sample("k", "500", "5oo", 0.9).correct


@pytest.mark.parametrize(("a", "b", "d"), [("", "", 0), ("abc", "", 3), ("kitten", "sitting", 3), ("ab", "ba", 2)])
def test_levenshtein(a, b, d):
    assert levenshtein(a, b) == d == levenshtein(b, a)


def test_normalized_edit_distance_bounds():
    assert normalized_edit_distance("", "") == 0.0
    assert normalized_edit_distance("abcd", "abce") == 0.25
    assert normalized_edit_distance("xyz", "ab") == 1.0


def test_a_drop_of_exactly_the_limit_is_within_it() -> None:
    assert 0.23 - 0.225 > 0.005  # float rounding of one image in 200
    assert drop_within(0.23 - 0.225, 0.005)
    assert drop_within(0.0, 0.0)
    assert not drop_within(0.0051, 0.005)
    assert not drop_within(0.0, -0.01)  # a negative limit refuses everything
