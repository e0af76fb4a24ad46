from __future__ import annotations

import re
import string

import numpy as np
import pytest

from textrec.charset import Charset
from textrec.data.synth.words import Lexicon, WordMix, WordSampler, lexicon_from_counts


def test_lexicon_is_frequent_english_words(lexicon: Lexicon) -> None:
    assert len(lexicon) == 3000
    assert {"the", "and", "open", "street"} <= set(lexicon.words)
    assert all(re.fullmatch(r"[a-z]+", w) for w in lexicon.words)
    assert lexicon.source.startswith("wordfreq==")
    assert np.all(np.diff(lexicon.cumulative) >= 0) and lexicon.cumulative[-1] == 1.0
    # frequent words come up more often, but flattening keeps the tail in play
    rng = np.random.default_rng(0)
    draws = [lexicon.sample(rng) for _ in range(5000)]
    assert draws.count("the") > 5
    assert len(set(draws)) > 1500


def test_labels_follow_the_charset_rules(lexicon: Lexicon) -> None:
    charset = Charset.from_file()
    sampler = WordSampler(lexicon, WordMix())
    rng = np.random.default_rng(1)
    labels = [sampler.sample(rng) for _ in range(3000)]
    for lab in labels:
        assert 1 <= len(lab) <= 25
        assert set(lab) <= set(string.digits + string.ascii_letters), lab
        assert charset.encode(lab).reason is None, lab
    kinds = {
        "upper": sum(lab.isalpha() and lab.isupper() for lab in labels),
        "title": sum(lab.isalpha() and lab[0].isupper() and lab[1:].islower() for lab in labels),
        "lower": sum(lab.isalpha() and lab.islower() for lab in labels),
        "digits": sum(lab.isdigit() for lab in labels),
        "mixed": sum(any(c.isdigit() for c in lab) and any(c.isalpha() for c in lab) for lab in labels),
    }
    assert all(v > 100 for v in kinds.values()), kinds
    assert max(len(lab) for lab in labels) > 15  # concatenated words and long numbers reach the tail


def test_mix_shares_select_the_kind(lexicon: Lexicon) -> None:
    rng = np.random.default_rng(2)
    words_only = WordSampler(lexicon, WordMix(lexicon=1, random=0, number=0))
    assert all(words_only.sample(rng).isalpha() for _ in range(300))
    numbers_only = WordSampler(lexicon, WordMix(lexicon=0, random=0, number=1))
    assert all(numbers_only.sample(rng).isdigit() for _ in range(300))
    short = WordSampler(lexicon, WordMix(min_len=2, max_len=4))
    assert all(2 <= len(short.sample(rng)) <= 4 for _ in range(300))


def test_same_generator_state_same_labels(lexicon: Lexicon) -> None:
    sampler = WordSampler(lexicon, WordMix())
    a = [sampler.sample(np.random.default_rng([5, 9])) for _ in range(3)]
    b = [sampler.sample(np.random.default_rng([5, 9])) for _ in range(3)]
    assert a == b


def test_bad_inputs_are_refused(lexicon: Lexicon) -> None:
    with pytest.raises(ValueError, match="mix"):
        WordSampler(lexicon, WordMix(lexicon=0, random=0, number=0))
    with pytest.raises(ValueError, match="lengths"):
        WordSampler(lexicon, WordMix(min_len=5, max_len=3))
    with pytest.raises(ValueError, match="letters only"):
        lexicon_from_counts(["ok", "don't"], np.array([1.0, 2.0]), 0.3, "test")


def test_punctuated_share_covers_every_english_dictionary_character(lexicon: Lexicon) -> None:
    en = Charset.from_file("builtin:en")
    sampler = WordSampler(lexicon, WordMix(punct=0.5))
    rng = np.random.default_rng(3)
    labels = [sampler.sample(rng) for _ in range(6000)]
    assert all(en.encode(lab).reason is None for lab in labels)  # printable ASCII, <= 25 characters
    punctuated = [lab for lab in labels if not lab.isalnum()]
    assert 0.28 < len(punctuated) / len(labels) < 0.38  # 0.5 of shares 0.6 + 0.2 + 0.2 + 0.5
    assert set("".join(labels)) == set(en.characters)  # every class is seen, space and '`' included
    shapes = {"price": r"\$?[\d,]+(\.\d\d)?\$?", "percent": r"-?[\d.]+%", "hyphenated": r"[A-Za-z]+-[A-Za-z]+"}
    for name, pattern in shapes.items():
        assert sum(bool(re.fullmatch(pattern, lab)) for lab in punctuated) > 50, name


def test_zero_punctuated_share_draws_exactly_the_labels_of_before(lexicon: Lexicon) -> None:
    """mix_punct 0 must leave the 0-9a-z profiles' data (and the synthetic benchmarks) unchanged."""
    import textrec.data.synth.words as words

    a, b = np.random.default_rng(9), np.random.default_rng(9)
    with_field = WordSampler(lexicon, WordMix(punct=0.0))
    three = WordSampler(lexicon, WordMix())
    three._kinds = three._kinds[:3]  # the three kinds of before: the same draws, index for index
    assert [with_field.sample(a) for _ in range(2000)] == [three.sample(b) for _ in range(2000)]
    assert words.WordMix().punct == 0.0
