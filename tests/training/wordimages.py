"""Tiny word-image LMDBs for tests: words drawn with cv2.putText on varied backgrounds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from textrec.data.lmdb_io import LmdbWriter

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def render_word(word: str, rng: np.random.Generator) -> bytes:
    """Draw ``word`` (dark or light text, random font/scale) on a noisy two-colour background -> PNG bytes."""
    import cv2

    font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX]))
    scale = float(rng.uniform(0.9, 1.2))
    thick = int(rng.integers(1, 3))
    (tw, th), base = cv2.getTextSize(word, font, scale, thick)
    pad = int(rng.integers(2, 6))
    h, w = th + base + 2 * pad, tw + 2 * pad
    bg = rng.integers(0, 256, 3)
    grad = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None]  # [1, W, 1]
    bg2 = rng.integers(0, 256, 3)
    img = (bg * (1 - grad) + bg2 * grad) + rng.normal(0, 6, (h, w, 3))
    img = np.clip(img, 0, 255).astype(np.uint8)
    lum = float(img.mean())
    color = (20, 20, 20) if lum > 128 else (235, 235, 235)
    cv2.putText(img, word, (pad, pad + th), font, scale, color, thick, cv2.LINE_AA)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def random_words(n: int, rng: np.random.Generator, min_len: int = 2, max_len: int = 6) -> list[str]:
    """``n`` distinct random words."""
    words: set[str] = set()
    while len(words) < n:
        k = int(rng.integers(min_len, max_len + 1))
        words.add("".join(rng.choice(list(ALPHABET), k)))
    return sorted(words)


def write_word_lmdb(dst: Path, words: list[str], seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    with LmdbWriter(dst) as w:
        for word in words:
            w.add(render_word(word, rng), word)
    return dst


def write_project(root: Path, n_train: int, n_val: int, recipe: dict, seed: int = 0,
                  params_name: str = "params.yaml", live_tracking: bool = True) -> Path:
    """A tiny project dir: data/lmdb/{train,val} + a params.yaml whose train.mobilenet_v3 is ``recipe``.
    ``live_tracking=False`` writes ``tracking.live: false``: the train stage then skips MLflow (importing it
    and creating a SQLite store take rank 0 ~10-30 s on 2 shared cores, while the other rank waits)."""
    import yaml

    rng = np.random.default_rng(seed)
    words = random_words(n_train + n_val, rng)
    if not (root / "data" / "lmdb" / "train").exists():
        write_word_lmdb(root / "data" / "lmdb" / "train", words[:n_train], seed=seed + 1)
        write_word_lmdb(root / "data" / "lmdb" / "val", words[n_train:], seed=seed + 2)
    params = {"paths": {"lmdb": "data/lmdb", "models": "models", "reports": "reports"},
              "train": {"mobilenet_v3": recipe}}
    if not live_tracking:
        params["tracking"] = {"live": False}
    (root / params_name).write_text(yaml.safe_dump(params), encoding="utf-8")
    return root / params_name
