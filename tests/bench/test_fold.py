"""bench/fold.py: a case-sensitive checkpoint read four ways on each synthetic benchmark (as trained, its head
folded exactly to 0-9a-z, summed to one column per class, summed and fitted), on the same images, with the
fold's and the fit's records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.bench.test_real_dev import _bench
from tests.training.wordimages import random_words, write_word_lmdb
from textrec.charset import Charset
from textrec.config.train import RecipeConfig
from textrec.training.trainer import train


def test_four_rows_per_benchmark_on_the_same_images(tmp_path: Path) -> None:
    fold = _bench("fold")
    rng = np.random.default_rng(3)
    words = write_word_lmdb(tmp_path / "train", [w.upper() if i % 2 else w for i, w in
                                                 enumerate(random_words(8, rng))], seed=4)
    recipe = RecipeConfig(epochs=100, batch_size=4, device="cpu", max_steps=2, lr=1e-3, eval_every_steps=2,
                          log_every_steps=1, checkpoint_every_steps=2)
    run = tmp_path / "run"
    train(recipe, "mobilenet_v3", words, words, run, charset=Charset.from_file("builtin:en"), progress=False)
    bench = tmp_path / "bench"
    for i, name in enumerate(("synth_A", "synth_B")):
        write_word_lmdb(bench / name, random_words(5, np.random.default_rng(10 + i)), seed=i)

    out = tmp_path / "fold.json"
    assert fold.main(["--model", str(run / "best.pdparams"), "--bench", str(bench), "--fit", str(words),
                      "--fit-images", "6", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["benchmarks"]) == {"synth_A", "synth_B"}
    for row in result["benchmarks"].values():
        assert row["count"] == 5 and all(0.0 <= row[r] <= 1.0 for r in fold.ROWS)
    fit = result["fit"]["head"]["fit"]
    assert fit["images"] == 6 and fit["agreement_after"] >= fit["agreement_before"]
    assert result["head"]["fold"] == {"columns": 96, "classes": 37}  # the default init: exact
    assert result["gap"] == result["mean"]["folded"] - result["mean"]["checkpoint"]
    assert result["gap_linear"] == result["mean"]["fitted"] - result["mean"]["checkpoint"]
    assert result["done_when"]["met"] == (abs(result["gap"]) <= fold.DONE_WHEN_GAP)


def test_no_benchmark_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    fold = _bench("fold")
    (tmp_path / "empty").mkdir()
    assert fold.main(["--model", str(tmp_path / "m.pdparams"), "--bench", str(tmp_path / "empty"),
                      "--fit", str(tmp_path), "--out", str(tmp_path / "f.json")]) == 2
    assert "no LMDB under" in capsys.readouterr().err
