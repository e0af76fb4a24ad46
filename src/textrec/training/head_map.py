"""Carry a trained CTC head over to another dictionary, character by character.

The head is one linear layer, ``head.fc``: weight [C_in, N] and bias [N] (paddle's Linear stores
[in, out]), class 0 the blank, class i the dictionary's i-th character. A checkpoint trained with
dictionary A starts a model with dictionary B this way:

* every class of B whose character is in A gets A's column (and the blank gets A's blank);
* where B lower-cases labels (the DTRB 0-9a-z dictionary), A's other-case column ("A" for "a") is folded in
  by adding it: the class's logit becomes the sum of both, which stays high on frames of either case and low
  elsewhere, so a case-sensitive model keeps reading upper-case words through a lower-case head;
* a character of B that A lacks keeps the fresh (seeded) initialisation; characters of A that B lacks are
  dropped. ``HeadMap`` counts each kind for the log and the trainer state.

``fold_columns`` gives the exact alternative for merged and dropped classes: the checkpoint's columns kept as
they are (plus one fresh column per new character) and the fold [columns, classes] that sums their
probabilities (models/head.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from textrec.charset import Charset
from textrec.training.head_fit import class_groups


class HeadMapError(ValueError):
    """The two dictionaries share no character: nothing of the head can be carried over."""


@dataclass(frozen=True)
class HeadMap:
    copied: int  # classes of the new dictionary taken from a column of the same character (blank included)
    folded: int  # of those, classes that also received another case's column
    fresh: str  # characters new to the checkpoint (seeded initialisation)
    dropped: str  # characters of the checkpoint the new dictionary does not have (nor folds)

    def record(self) -> dict:
        return {"copied": self.copied, "folded": self.folded, "fresh": len(self.fresh),
                "fresh_characters": self.fresh, "dropped": len(self.dropped),
                "dropped_characters": self.dropped}

    def summary(self) -> str:
        fold = f" ({self.folded} with the other case folded in)" if self.folded else ""
        return (f"{self.copied} classes carried over{fold}, {len(self.fresh)} new to the checkpoint "
                f"{self.fresh!r}, {len(self.dropped)} of its characters unused")


def map_head(weight: np.ndarray, bias: np.ndarray, source: tuple[str, ...], target: Charset,
             fresh_weight: np.ndarray, fresh_bias: np.ndarray) -> tuple[np.ndarray, np.ndarray, HeadMap]:
    """(weight [C_in, len(target)+1], bias [len(target)+1], what happened) for ``target`` from a head trained
    with the characters ``source`` (weight [C_in, len(source)+1]); ``fresh_*``: the seeded new head."""
    if weight.shape[1] != len(source) + 1 or bias.shape[0] != len(source) + 1:
        raise HeadMapError(f"the head has {bias.shape[0]} classes, its dictionary {len(source)} characters + blank")
    columns: dict[str, list[int]] = {}  # target character -> source columns
    for j, ch in enumerate(source, start=1):
        if ch in target.characters:
            columns.setdefault(ch, []).insert(0, j)  # the same character first
        elif target.lowercase and ch.lower() in target.characters:
            columns.setdefault(ch.lower(), []).append(j)
    if not columns:
        raise HeadMapError("the checkpoint's dictionary shares no character with this run's")
    w, b = fresh_weight.copy(), fresh_bias.copy()
    w[:, 0], b[0] = weight[:, 0], bias[0]  # blank
    fresh, folded = [], 0
    for i, ch in enumerate(target.characters, start=1):
        cols = columns.get(ch)
        if not cols:
            fresh.append(ch)
            continue
        w[:, i], b[i] = weight[:, cols].sum(axis=1), bias[cols].sum()
        folded += len(cols) > 1
    used = {j for cols in columns.values() for j in cols}
    dropped = "".join(ch for j, ch in enumerate(source, start=1) if j not in used)
    return w, b, HeadMap(1 + len(target.characters) - len(fresh), folded, "".join(fresh), dropped)


def fold_columns(weight: np.ndarray, bias: np.ndarray, source: tuple[str, ...], target: Charset,
                 fresh_weight: np.ndarray, fresh_bias: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weight [C_in, S + F], bias [S + F], fold [S + F, len(target)+1]) for a folded head: the checkpoint's S
    columns (``weight`` [C_in, S]) grouped as ``class_groups`` groups them (the other case with its class,
    characters ``target`` drops with the blank), then one column of the seeded ``fresh_*`` head for each of
    the F characters new to the checkpoint."""
    groups = class_groups(source, target)
    new = [i for i, g in enumerate(groups) if not g]  # classes no column of the checkpoint stands for
    fold = np.zeros((weight.shape[1] + len(new), len(groups)), np.float32)
    for i, g in enumerate(groups):
        fold[g, i] = 1.0
    fold[weight.shape[1] + np.arange(len(new)), new] = 1.0
    return (np.concatenate([weight, fresh_weight[:, new]], axis=1), np.concatenate([bias, fresh_bias[new]]), fold)
