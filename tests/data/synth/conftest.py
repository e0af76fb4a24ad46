"""Fixtures for the synthetic-data tests: the real font inventory and a small real lexicon (built once)."""

from __future__ import annotations

import pytest

from textrec.data.synth.fonts import FontFace, load_inventory
from textrec.data.synth.sample import RenderContext
from textrec.data.synth.words import Lexicon, WordMix, load_lexicon


@pytest.fixture(scope="session")
def faces() -> list[FontFace]:
    return load_inventory()


@pytest.fixture(scope="session")
def lexicon() -> Lexicon:
    return load_lexicon(3000, 0.3)


@pytest.fixture(scope="session")
def ctx(faces: list[FontFace], lexicon: Lexicon) -> RenderContext:
    return RenderContext(tuple(faces), lexicon, WordMix())
