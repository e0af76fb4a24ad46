"""Where a recognizer fails: accuracy per attribute bin, the bins that hold more errors than their share, and
the character edit operations (substitutions, deletions, insertions) that turn labels into predictions.

A record is one scored image: ``{"bins": {attribute: bin}, "correct": bool}``, plus ``"peer_correct"`` when a
reference model read the same image (its accuracy per bin says whether the bin is hard for everyone or only
for us).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

EditKind = Literal["substitution", "deletion", "insertion"]


@dataclass(frozen=True)
class EditOp:
    kind: EditKind
    label_char: str  # "" for an insertion
    predicted_char: str  # "" for a deletion


def edit_operations(label: str, prediction: str) -> list[EditOp]:
    """One minimal alignment of ``label`` to ``prediction`` (Levenshtein, unit costs): the edits it makes,
    in label order. Among equally short alignments, substitutions are preferred over deletion + insertion."""
    n, m = len(label), len(prediction)
    # dist[i][j]: edits turning label[:i] into prediction[:j]; [n+1, m+1]
    dist = [[i + j if i == 0 or j == 0 else 0 for j in range(m + 1)] for i in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            dist[i][j] = min(dist[i - 1][j - 1] + (label[i - 1] != prediction[j - 1]),
                             dist[i - 1][j] + 1, dist[i][j - 1] + 1)
    ops: list[EditOp] = []
    i, j = n, m
    while i or j:  # walk back from the corner, diagonal first
        if i and j and dist[i][j] == dist[i - 1][j - 1] + (label[i - 1] != prediction[j - 1]):
            if label[i - 1] != prediction[j - 1]:
                ops.append(EditOp("substitution", label[i - 1], prediction[j - 1]))
            i, j = i - 1, j - 1
        elif i and dist[i][j] == dist[i - 1][j] + 1:
            ops.append(EditOp("deletion", label[i - 1], ""))
            i -= 1
        else:
            ops.append(EditOp("insertion", "", prediction[j - 1]))
            j -= 1
    return ops[::-1]


def error_types(pairs: Sequence[tuple[str, str]], top: int = 20) -> dict:
    """Edit operations over (label, prediction) pairs: counts per kind, per label character, the ``top``
    most frequent substitutions (label char -> predicted char), and the characters most often deleted (in the
    label, missing from the prediction) and inserted (in the prediction only)."""
    kinds: Counter = Counter()
    subs: Counter = Counter()
    deleted: Counter = Counter()
    inserted: Counter = Counter()
    for label, prediction in pairs:
        for op in edit_operations(label, prediction):
            kinds[op.kind] += 1
            if op.kind == "substitution":
                subs[(op.label_char, op.predicted_char)] += 1
            else:
                (deleted if op.kind == "deletion" else inserted)[op.label_char or op.predicted_char] += 1
    chars = sum(len(label) for label, _ in pairs)
    return {
        "label_characters": chars,
        "counts": {k: kinds[k] for k in ("substitution", "deletion", "insertion")},
        "per_label_character": {k: round(kinds[k] / chars, 4) if chars else 0.0
                                for k in ("substitution", "deletion", "insertion")},
        "top_confusions": [{"label": a, "predicted": b, "count": c} for (a, b), c in subs.most_common(top)],
        "top_deleted": dict(deleted.most_common(top)),
        "top_inserted": dict(inserted.most_common(top)),
    }


def bin_table(records: Sequence[Mapping], attribute: str, order: Sequence[str] = ()) -> list[dict]:
    """One row per bin of ``attribute`` (in ``order``, then any others): count, share of the records, errors,
    accuracy, share of all errors, and ``error_lift`` = error share / share (above 1: the bin holds more than
    its share of the errors); ``peer_accuracy`` when the records carry ``peer_correct``."""
    total = len(records)
    errors = sum(not r["correct"] for r in records)
    groups: dict[str, list[Mapping]] = {}
    for r in records:
        groups.setdefault(r["bins"][attribute], []).append(r)
    names = [b for b in order if b in groups] + sorted(b for b in groups if b not in order)
    rows = []
    for name in names:
        group = groups[name]
        wrong = sum(not r["correct"] for r in group)
        share = len(group) / total
        row = {"bin": name, "count": len(group), "share": round(share, 4), "errors": wrong,
               "accuracy": round(1 - wrong / len(group), 4),
               "error_share": round(wrong / errors, 4) if errors else 0.0,
               "error_lift": round(wrong / errors / share, 3) if errors else 0.0}
        if all(r.get("peer_correct") is not None for r in group):
            row["peer_accuracy"] = round(sum(r["peer_correct"] for r in group) / len(group), 4)
        rows.append(row)
    return rows


def failure_ranking(tables: Mapping[str, list[dict]], total: int, top: int = 10,
                    min_share: float = 0.02, min_count: int = 20) -> list[dict]:
    """The bins holding more errors than their share, the highest ``error_lift`` first, over every attribute
    of ``tables``; bins smaller than ``min_share`` of ``total`` records or ``min_count`` are left out (a
    handful of images proves nothing). ``excess_errors``: errors beyond what the bin's size predicts."""
    rows = []
    for attribute, table in tables.items():
        errors = sum(r["errors"] for r in table)
        for r in table:
            small = r["count"] < min_count or r["count"] < min_share * total
            if small or r["bin"] == "n/a" or r["error_lift"] <= 1:
                continue
            rows.append({"attribute": attribute, **r,
                         "excess_errors": round(r["errors"] - errors * r["count"] / total)})
    return sorted(rows, key=lambda r: (-r["error_lift"], -r["excess_errors"]))[:top]
