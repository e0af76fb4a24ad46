"""What the synthetic images say: English words, random alphanumeric strings, numbers and punctuated tokens.

The lexicon is the English word-frequency list of the ``wordfreq`` package (code Apache-2.0, data
CC BY-SA 4.0; Google Books Ngrams, Wikipedia, OpenSubtitles, Twitter and other corpora), installed by setup.
Words are sampled with probability ``frequency ** flatten`` so common words ("exit", "open") come up
often without drowning the long tail that teaches spelling rather than a language prior.

Labels keep their case; a 0-9a-z charset lower-cases them (and drops punctuation) at training time. Labels are
printable ASCII: 0-9a-zA-Z, plus punctuation and the odd space for the ``punct`` share (``punct.py``).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

import numpy as np

from textrec.data.synth.punct import punctuated

LETTERS = string.ascii_letters
ALNUM = string.digits + string.ascii_letters
_WORD = re.compile(r"^[a-z]+$")


@dataclass(frozen=True)
class Lexicon:
    words: tuple[str, ...]
    cumulative: np.ndarray  # [len(words)] float64, cumulative sampling probability, last == 1.0
    source: str  # where the words come from (recorded in the dataset summary)

    def __len__(self) -> int:
        return len(self.words)

    def sample(self, rng: np.random.Generator) -> str:
        i = int(np.searchsorted(self.cumulative, rng.random(), side="right"))
        return self.words[min(i, len(self.words) - 1)]


def load_lexicon(size: int, flatten: float, max_len: int = 25) -> Lexicon:
    """The ``size`` most frequent purely alphabetic English words of wordfreq's 'large' list."""
    from importlib.metadata import version

    import wordfreq

    freq = wordfreq.get_frequency_dict("en", wordlist="large")
    ranked = sorted(((-f, w) for w, f in freq.items() if _WORD.match(w) and len(w) <= max_len))[:size]
    if len(ranked) < size:
        raise ValueError(f"wordfreq has only {len(ranked)} alphabetic English words, {size} requested")
    return lexicon_from_counts([w for _, w in ranked], np.array([-f for f, _ in ranked]), flatten,
                               source=f"wordfreq=={version('wordfreq')} en/large top {size}")


def lexicon_from_counts(words: list[str], freqs: np.ndarray, flatten: float, source: str) -> Lexicon:
    if not words:
        raise ValueError("empty lexicon")
    bad = [w for w in words if not w or any(c not in LETTERS for c in w)]
    if bad:
        raise ValueError(f"lexicon words must be letters only, got e.g. {bad[:5]}")
    weights = np.asarray(freqs, dtype=np.float64) ** flatten
    cum = np.cumsum(weights / weights.sum())
    cum[-1] = 1.0
    return Lexicon(tuple(words), cum, source)


@dataclass(frozen=True)
class WordMix:
    """Shares of each kind of label (normalised at use) and the case styles of words."""

    lexicon: float = 0.6
    random: float = 0.2
    number: float = 0.2
    punct: float = 0.0  # prices, times, hyphenated words, ... (punct.py); 0 leaves every other draw unchanged
    concat: float = 0.08  # of lexicon picks: 2-3 words run together ("BANKNORTH", "parkinglot")
    upper: float = 0.45
    title: float = 0.35
    lower: float = 0.17  # the rest (0.03 by default) is random mixed case ("LeYenDa")
    min_len: int = 1
    max_len: int = 25


class WordSampler:
    """Draw one label per call; all randomness comes from the generator passed in."""

    def __init__(self, lexicon: Lexicon, mix: WordMix) -> None:
        if not 1 <= mix.min_len <= mix.max_len:
            raise ValueError(f"bad label lengths {mix.min_len}..{mix.max_len}")
        shares = np.array([mix.lexicon, mix.random, mix.number, mix.punct], dtype=np.float64)
        if (shares < 0).any() or shares.sum() <= 0:
            raise ValueError(f"word mix shares must be >= 0 and not all 0, got {shares.tolist()}")
        self.lexicon = lexicon
        self.mix = mix
        self._kinds = np.cumsum(shares / shares.sum())
        self._cases = np.cumsum([mix.upper, mix.title, mix.lower])

    def sample(self, rng: np.random.Generator) -> str:
        for _ in range(100):
            kind = int(np.searchsorted(self._kinds, rng.random(), side="right"))
            text = (self._word, self._random, self._number, self._punct)[min(kind, 3)](rng)
            if self.mix.min_len <= len(text) <= self.mix.max_len:
                return text
        raise RuntimeError(f"no label of length {self.mix.min_len}..{self.mix.max_len} in 100 draws")

    def _case(self, word: str, rng: np.random.Generator) -> str:
        r = rng.random()
        if r < self._cases[0]:
            return word.upper()
        if r < self._cases[1]:
            return word[:1].upper() + word[1:]
        if r < self._cases[2]:
            return word.lower()
        return "".join(c.upper() if rng.random() < 0.5 else c for c in word)

    def _word(self, rng: np.random.Generator) -> str:
        word = self.lexicon.sample(rng)
        if rng.random() < self.mix.concat:
            for _ in range(int(rng.integers(1, 3))):
                word += self.lexicon.sample(rng)
        return self._case(word, rng)

    def _punct(self, rng: np.random.Generator) -> str:
        return punctuated(rng, lambda r: self._case(self.lexicon.sample(r), r))

    def _random(self, rng: np.random.Generator) -> str:
        n = int(rng.integers(self.mix.min_len, min(self.mix.max_len, 12) + 1))
        style = rng.random()
        if style < 0.35:  # codes such as "XJ7K2" or "b52": letters of one case plus digits
            pool = string.digits + (string.ascii_uppercase if rng.random() < 0.7 else string.ascii_lowercase)
        elif style < 0.6:  # a word with a number glued on: "route66", "A4"
            word = self._case(self.lexicon.sample(rng), rng)[: max(1, n - 2)]
            digits = "".join(rng.choice(list(string.digits), size=int(rng.integers(1, 4))))
            return word + digits if rng.random() < 0.7 else digits + word
        else:
            pool = ALNUM if rng.random() < 0.5 else LETTERS
        return "".join(rng.choice(list(pool), size=n))

    def _number(self, rng: np.random.Generator) -> str:
        r = rng.random()
        if r < 0.2:
            return str(int(rng.integers(1900, 2031)))  # years
        if r < 0.35:
            return "".join(rng.choice(list(string.digits), size=int(rng.integers(7, 12))))  # phone numbers
        n = int(min(self.mix.max_len, 1 + rng.geometric(0.35)))  # mostly short: 1-4 digits
        first = str(int(rng.integers(1, 10))) if n > 1 and rng.random() < 0.9 else str(int(rng.integers(0, 10)))
        return first + "".join(rng.choice(list(string.digits), size=n - 1))
