"""Shared fixtures. The parity kit and real-dev data live in ../shared beside the repository (CI has it)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PARITY = SHARED / "reference" / "paddleocr-parity"


@pytest.fixture(scope="session")
def parity_kit() -> Path:
    if not (PARITY / "labels.tsv").exists():
        pytest.skip(f"PaddleOCR parity kit not found at {PARITY}")
    return PARITY


@pytest.fixture(scope="session")
def parity_rows(parity_kit: Path) -> list[tuple[Path, str]]:
    """(image path, label) in the kit's batch order."""
    rows = []
    for line in (parity_kit / "labels.tsv").read_text(encoding="utf-8").splitlines():
        rel, label = line.split("\t", 1)
        rows.append((parity_kit / rel, label))
    return rows


def read_predictions(path: Path) -> list[tuple[str, str, float]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        name, text, score = line.split("\t")
        out.append((name, text, float(score)))
    return out
