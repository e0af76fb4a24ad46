import pytest

from textrec.evaluation.breakdown import EditOp, bin_table, edit_operations, error_types, failure_ranking
from textrec.evaluation.metrics import levenshtein


@pytest.mark.parametrize(("label", "prediction", "ops"), [
    ("cat", "cat", []),
    ("cat", "cut", [EditOp("substitution", "a", "u")]),
    ("hello", "helo", [EditOp("deletion", "l", "")]),
    ("ab", "abc", [EditOp("insertion", "", "c")]),
    ("", "ab", [EditOp("insertion", "", "a"), EditOp("insertion", "", "b")]),
    ("exit", "", [EditOp("deletion", c, "") for c in "exit"]),
    ("nothing", "nothing2", [EditOp("insertion", "", "2")]),
    ("500", "5500", [EditOp("insertion", "", "5")]),
])
def test_edit_operations(label, prediction, ops):
    assert edit_operations(label, prediction) == ops


@pytest.mark.parametrize(("label", "prediction"), [("kitten", "sitting"), ("park", "parkk"), ("rn", "m"),
                                                   ("abcdef", "azced")])
def test_edit_operations_are_a_minimal_alignment(label, prediction):
    ops = edit_operations(label, prediction)
    assert len(ops) == levenshtein(label, prediction)
    # replaying the operations on the label gives the prediction's length
    assert len(label) - sum(o.kind == "deletion" for o in ops) + sum(o.kind == "insertion" for o in ops) \
        == len(prediction)


def test_error_types_count_kinds_and_confusions():
    pairs = [("cat", "cut"), ("hat", "hut"), ("bat", "bet"), ("hello", "helo"), ("500", "5500"), ("ok", "ok")]
    res = error_types(pairs, top=2)
    assert res["label_characters"] == 19
    assert res["counts"] == {"substitution": 3, "deletion": 1, "insertion": 1}
    assert res["per_label_character"]["substitution"] == round(3 / 19, 4)
    # substitutions only, most frequent first, cut at top
    assert res["top_confusions"] == [{"label": "a", "predicted": "u", "count": 2},
                                     {"label": "a", "predicted": "e", "count": 1}]
    assert res["top_deleted"] == {"l": 1} and res["top_inserted"] == {"5": 1}


def _records(spec):
    """[(bin, correct, peer_correct)] -> records."""
    return [{"bins": {"h": b}, "correct": c, "peer_correct": p} for b, c, p in spec]


def test_bin_table_shares_accuracy_and_lift():
    recs = _records([("low", False, True)] * 4 + [("high", True, True)] * 5 + [("high", False, False)])
    low, high = bin_table(recs, "h", order=["low", "high"])
    assert low == {"bin": "low", "count": 4, "share": 0.4, "errors": 4, "accuracy": 0.0, "error_share": 0.8,
                   "error_lift": 2.0, "peer_accuracy": 1.0}
    assert high["accuracy"] == round(5 / 6, 4) and high["error_share"] == 0.2
    assert high["error_lift"] == round(0.2 / 0.6, 3) and high["peer_accuracy"] == round(5 / 6, 4)


def test_failure_ranking_orders_by_lift_and_leaves_out_small_bins():
    recs = (_records([("tiny", False, None)] * 2)
            + _records([("low", False, None)] * 30 + [("low", True, None)] * 10)
            + _records([("high", True, None)] * 150 + [("high", False, None)] * 8))
    tables = {"h": bin_table(recs, "h")}
    ranked = failure_ranking(tables, total=len(recs), min_count=20)
    # "tiny" (2 images) is left out, "high" holds fewer errors than its share
    assert [r["bin"] for r in ranked] == ["low"]
    assert ranked[0]["attribute"] == "h" and "peer_accuracy" not in ranked[0]
    # 40 errors in all, "low" holds 40/200 of the images: 8 expected, 30 seen
    assert ranked[0]["excess_errors"] == 22
