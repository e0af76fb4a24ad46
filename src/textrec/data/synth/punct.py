"""Labels with punctuation, in the patterns real scene text has them.

Real word crops carry punctuation in a few recurring shapes (ICDAR 2015's word ground truth: about 9% of
its words have a character outside 0-9A-Za-z; most often ``. - ' ! $ % / , : #``): prices ("$4.00",
"$5,000"), percentages, times and dates ("10:30", "12/05"), phone-like and unit numbers ("6-3388-680",
"#14-01"), hyphenated and possessive words ("whole-grain", "CHILDREN'S"), sentence ends ("NOW!", "LESS?"),
abbreviations ("no.1", "St."), web and e-mail tokens ("www.tk-hair.com"), brackets and quotes ("(USP)"),
and a few two-word crops ("3 FOR"). ``PATTERNS`` weighs them; ``ODD`` sprinkles the rest of the printable
ASCII range so that every class of PaddleOCR's English dictionary is seen in training.
"""

from __future__ import annotations

import string
from collections.abc import Callable

import numpy as np

Word = Callable[[np.random.Generator], str]  # a cased lexicon word
_TLD = ("com", "org", "net", "sg", "uk", "edu", "co", "io", "de")
_ABBREV = ("St.", "Dr.", "No.", "Ave.", "Rd.", "Ltd.", "Inc.", "Co.", "Mr.", "Mrs.", "etc.", "U.S.A.", "a.m.",
           "p.m.", "Tel.", "Fig.", "Vol.", "Dept.", "Jr.", "vs.", "e.g.", "i.e.", "Blvd.", "Est.")
ODD = "<=>[\\]^_`{|}~*+;\"()@&"


def _digits(rng: np.random.Generator, lo: int, hi: int) -> str:
    return "".join(rng.choice(list(string.digits), size=int(rng.integers(lo, hi + 1))))


def _int(rng: np.random.Generator, lo: int, hi: int) -> str:
    return str(int(rng.integers(lo, hi + 1)))


def price(rng: np.random.Generator, word: Word) -> str:
    whole = _int(rng, 1, 999) if rng.random() < 0.8 else f"{_int(rng, 1, 99)},{_digits(rng, 3, 3)}"
    cents = f".{_digits(rng, 2, 2)}" if rng.random() < 0.55 else ""
    if rng.random() < 0.15:
        cents = f".{rng.choice(['00', '50', '90', '95', '99'])}"
    return f"${whole}{cents}" if rng.random() < 0.85 else f"{whole}{cents}$"


def percent(rng: np.random.Generator, word: Word) -> str:
    n = _int(rng, 1, 100) if rng.random() < 0.85 else f"{_int(rng, 0, 99)}.{_digits(rng, 1, 1)}"
    return f"{n}%" if rng.random() < 0.9 else f"-{n}%"


def clock_or_date(rng: np.random.Generator, word: Word) -> str:
    r = rng.random()
    if r < 0.4:
        t = f"{_int(rng, 0, 23)}:{_digits(rng, 2, 2)}"
        return t + (rng.choice(["am", "pm", "AM", "PM"]) if rng.random() < 0.2 else "")
    if r < 0.75:
        sep = "/" if rng.random() < 0.6 else rng.choice(["-", "."])
        parts = [_int(rng, 1, 31), _int(rng, 1, 12)] + ([_int(rng, 1990, 2030)] if rng.random() < 0.5 else [])
        return sep.join(parts)
    return f"{_int(rng, 1, 12)}-{_int(rng, 1, 12)}{rng.choice(['pm', 'am', 'PM', ''])}"


def coded_number(rng: np.random.Generator, word: Word) -> str:
    r = rng.random()
    if r < 0.3:  # phone numbers
        return "-".join(_digits(rng, 1, 4) for _ in range(int(rng.integers(2, 4))))
    if r < 0.55:  # unit numbers and hashtags
        return f"#{_digits(rng, 2, 2)}-{_digits(rng, 2, 2)}" if rng.random() < 0.6 else f"#{_int(rng, 1, 99)}"
    if r < 0.8:  # thousands and decimals
        return f"{_int(rng, 1, 999)},{_digits(rng, 3, 3)}" if rng.random() < 0.5 else f"{_int(rng, 0, 99)}.{_digits(rng, 1, 2)}"
    return f"{_int(rng, 1, 99)}{rng.choice(['+', '/', 'x', '*', '='])}{_int(rng, 1, 99)}"


def hyphenated(rng: np.random.Generator, word: Word) -> str:
    a, b = word(rng), word(rng)
    if a.isupper() != b.isupper():  # one case style across the compound: "SIDE-GATE", "Top-up"
        b = b.upper() if a.isupper() else b.lower()
    return f"{a}-{b}" if rng.random() < 0.9 else f"{a}-{_int(rng, 1, 99)}"


def possessive(rng: np.random.Generator, word: Word) -> str:
    w = word(rng)
    s = "S" if w.isupper() else "s"
    r = rng.random()
    if r < 0.6:
        return f"{w}'{s}"
    if r < 0.8:
        return f"{w}{s}'"
    return w[: max(1, len(w) - 1)] + "'" + w[-1:]  # contraction-like: "don't", "it'll"


def sentence_end(rng: np.random.Generator, word: Word) -> str:
    mark = rng.choice([".", "!", ",", "?", ":", ";", "!!", "...", "?!"], p=[.3, .25, .15, .1, .08, .04, .03, .03, .02])
    return f"{word(rng)}{mark}"


def abbreviation(rng: np.random.Generator, word: Word) -> str:
    a = str(rng.choice(_ABBREV))
    r = rng.random()
    if r < 0.5:
        return a.upper() if rng.random() < 0.3 else a
    if r < 0.8:
        return f"{rng.choice(['no.', 'No.', 'NO.'])}{_int(rng, 1, 99)}"
    return ".".join(rng.choice(list(string.ascii_uppercase), size=int(rng.integers(2, 4)))) + "."


def web(rng: np.random.Generator, word: Word) -> str:
    name = word(rng).lower()
    if rng.random() < 0.3:
        name += "-" + word(rng).lower()
    tld = str(rng.choice(_TLD))
    r = rng.random()
    if r < 0.45:
        return f"www.{name}.{tld}"
    if r < 0.75:
        return f"{word(rng).lower()[:8]}@{name}.{tld}"
    if r < 0.9:
        return f"{name}.{tld}"
    return f"@{name}" if rng.random() < 0.5 else f"#{name}"


def bracketed(rng: np.random.Generator, word: Word) -> str:
    inner = word(rng) if rng.random() < 0.7 else _digits(rng, 1, 3)
    left, right = [("(", ")"), ("[", "]"), ('"', '"'), ("'", "'"), ("{", "}"), ("<", ">")][
        int(rng.choice(6, p=[.45, .15, .25, .08, .03, .04]))]
    return f"{left}{inner}{right}"


def two_words(rng: np.random.Generator, word: Word) -> str:
    a = word(rng) if rng.random() < 0.7 else _int(rng, 1, 99)
    joiner = str(rng.choice([" ", " & ", "&", "/", " + "], p=[.6, .12, .1, .12, .06]))
    return f"{a}{joiner}{word(rng)}"


def odd(rng: np.random.Generator, word: Word) -> str:
    """A word or number with one of the rarer symbols in front, behind or inside."""
    w = word(rng) if rng.random() < 0.6 else _digits(rng, 1, 4)
    c = str(rng.choice(list(ODD)))
    r = rng.random()
    return c + w if r < 0.35 else w + c if r < 0.7 else w[: len(w) // 2] + c + w[len(w) // 2:]


# (pattern, weight): roughly the order of frequency of these shapes in scene text
PATTERNS: tuple[tuple[Callable[[np.random.Generator, Word], str], float], ...] = (
    (sentence_end, 0.17), (hyphenated, 0.13), (price, 0.12), (possessive, 0.1), (coded_number, 0.1),
    (percent, 0.06), (clock_or_date, 0.07), (abbreviation, 0.05), (web, 0.06), (bracketed, 0.05),
    (two_words, 0.05), (odd, 0.04),
)


def punctuated(rng: np.random.Generator, word: Word) -> str:
    """One label drawn from ``PATTERNS`` by weight."""
    weights = np.array([w for _, w in PATTERNS])
    i = int(rng.choice(len(PATTERNS), p=weights / weights.sum()))
    return PATTERNS[i][0](rng, word)
