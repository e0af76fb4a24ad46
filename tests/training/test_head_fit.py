"""A folded head fitted to the case-sensitive head it came from (training/head_fit.py)."""

from __future__ import annotations

import string

import numpy as np

from textrec.charset import Charset
from textrec.training.head_fit import class_groups, fit_head
from textrec.training.head_map import map_head

EN, DTRB = Charset.from_file("builtin:en"), Charset.from_file()


def test_groups_fold_case_and_send_dropped_characters_to_the_blank():
    groups = class_groups(EN.characters, DTRB)
    col = {c: j for j, c in enumerate(EN.characters, start=1)}
    assert len(groups) == 37 and sorted(j for g in groups for j in g) == list(range(96))  # each class once
    assert sorted(groups[DTRB.characters.index("g") + 1]) == sorted([col["g"], col["G"]])
    assert groups[DTRB.characters.index("7") + 1] == [col["7"]]
    assert sorted(groups[0]) == sorted([0] + [col[c] for c in string.punctuation + " "])


def test_the_fit_reads_what_the_case_sensitive_head_reads_where_the_summed_columns_do_not():
    """A head that tells 'a' from 'A' along one direction of the features: on an 'A' frame the 'a' logit is
    low, so the summed column loses to other classes; the fitted one agrees with the grouped probabilities."""
    rng = np.random.default_rng(0)
    c_in, frames = 32, 4000
    w = rng.normal(size=(c_in, 96)).astype(np.float32)
    case = rng.normal(size=c_in).astype(np.float32)
    for j, ch in enumerate(EN.characters, start=1):  # upper case: the lower-case column minus a case direction
        if ch.isupper():
            w[:, j] = w[:, EN.characters.index(ch.lower()) + 1] + 3 * case
    b = rng.normal(size=96).astype(np.float32)
    feats = rng.normal(size=(frames, c_in)).astype(np.float32)
    mw, mb, _ = map_head(w, b, EN.characters, DTRB, np.zeros((c_in, 37), np.float32), np.zeros(37, np.float32))
    fw, fb, fit = fit_head(feats, w, b, class_groups(EN.characters, DTRB), mw, mb, images=160)
    assert (fit.images, fit.frames) == (160, frames)
    assert fit.agreement_before < 0.6 and fit.agreement_after > fit.agreement_before + 0.2  # 0.53 -> 0.80
    z = feats @ w + b
    grouped = np.stack([np.exp(z - z.max(1, keepdims=True))[:, g].sum(1) for g in class_groups(EN.characters, DTRB)], 1)
    assert abs(np.mean((feats @ fw + fb).argmax(1) == grouped.argmax(1)) - fit.agreement_after) < 0.005
    assert fw.shape == (c_in, 37) and fb.shape == (37,)


def test_fold_columns_keep_every_checkpoint_column_and_add_one_per_new_character(tmp_path):
    """en -> a lower-casing dictionary with a character en lacks ('é'): the 96 columns stay as they are, 'a'
    sums 'a' and 'A', punctuation goes to the blank, and 'é' gets one column of the seeded fresh head."""
    from textrec.training.head_map import fold_columns

    path = tmp_path / "d.txt"
    path.write_text("".join(c + "\n" for c in "0123456789abcdefghijklmnopqrstuvwxyzé"))
    target = Charset.from_file(path)  # a file other than en lower-cases labels, like 0-9a-z
    rng = np.random.default_rng(1)
    w, b = rng.normal(size=(8, 96)).astype(np.float32), rng.normal(size=96).astype(np.float32)
    fw, fb = rng.normal(size=(8, 38)).astype(np.float32), rng.normal(size=38).astype(np.float32)
    weight, bias, fold = fold_columns(w, b, EN.characters, target, fw, fb)
    assert weight.shape == (8, 97) and bias.shape == (97,) and fold.shape == (97, 38)
    assert np.array_equal(weight[:, :96], w) and np.array_equal(bias[:96], b)
    e = target.characters.index("é") + 1
    assert np.array_equal(weight[:, 96], fw[:, e]) and bias[96] == fb[e] and fold[96].argmax() == e
    assert (fold.sum(axis=1) == 1).all()
    col = {c: j for j, c in enumerate(EN.characters, start=1)}
    a = target.characters.index("a") + 1
    assert fold[col["a"], a] == fold[col["A"], a] == 1 and fold[col["!"], 0] == fold[0, 0] == 1
