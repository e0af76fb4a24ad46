"""`textrec convert` and data/sources.py: the formats users have (PaddleOCR label file, folder + labels.tsv,
ICDAR gt, LMDB tree) into one checked LMDB; every bad row rejected by reason and listed, none dropped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.training.wordimages import render_word
from textrec.charset import Charset
from textrec.cli import main
from textrec.config import ConfigError, FolderDataConfig, OwnSet, parse_params
from textrec.data.lmdb_io import LmdbWriter, iter_records
from textrec.data.sources import convert_folder, convert_sources, detect_format

WORDS = ["hello", "world", "paddle", "crnn42", "street"]


def paddleocr_tree(root: Path) -> Path:
    """PaddleOCR's layout (train_data/rec/rec_gt_train.txt, images in train/), five good rows and one bad row
    of each kind: an image that is missing, one that does not decode, an empty label, a label over 25
    characters, a character outside 0-9a-z, a line without a tab."""
    rng = np.random.default_rng(0)
    (root / "train").mkdir(parents=True)
    lines = []
    for i, w in enumerate(WORDS):
        (root / "train" / f"word_{i:03d}.png").write_bytes(render_word(w, rng))
        lines.append(f"train/word_{i:03d}.png\t{w}")
    (root / "train" / "broken.png").write_bytes(b"\x89PNG truncated")
    lines += ["train/missing.png\tgone", "train/broken.png\tbroken", "train/word_000.png\t",
              "train/word_001.png\t" + "x" * 26, "train/word_002.png\tstraße", "train/word_003.png"]
    (root / "rec_gt_train.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root / "rec_gt_train.txt"


STRICT = Charset.from_file(drop_unknown=False)  # what `textrec convert` uses unless --drop-unknown


def test_paddleocr_label_file_with_bad_rows(tmp_path):
    label_file = paddleocr_tree(tmp_path / "rec")
    r = convert_sources([(label_file, "paddleocr", None)], tmp_path / "out" / "train", STRICT, processes=0)
    assert (r.samples, r.written) == (11, 5)
    assert [lab.decode() for _, _, lab in iter_records(r.dst)] == WORDS  # in file order, original bytes
    assert next(iter_records(r.dst))[1] == (tmp_path / "rec" / "train" / "word_000.png").read_bytes()
    assert (r.manifest, r.rejections) == (tmp_path / "out" / "train.parquet",
                                          tmp_path / "out" / "train.rejections.json")
    rej = json.loads(r.rejections.read_text())
    assert rej["counts"] == {"unparseable_line": 1, "missing_file": 1, "undecodable": 1, "empty": 1,
                             "too_long": 1, "unknown_chars": 1}
    assert rej["items"]["missing_file"] == ["train/missing.png"]
    assert rej["items"]["undecodable"] == ["train/broken.png"]
    assert rej["items"]["empty"] == ["train/word_000.png"]
    assert rej["items"]["too_long"] == ["train/word_001.png"]
    assert rej["items"]["unknown_chars"] == ["train/word_002.png"]
    assert rej["items"]["unparseable_line"][0].startswith("rec_gt_train.txt:11: expected 'path<TAB>label'")
    manifest = pd.read_parquet(r.manifest)
    assert len(manifest) == 11 and (manifest.status == "ok").sum() == 5  # every row, kept or not
    # the DTRB rule instead: the unknown character is dropped, the row kept ("strae"), the manifest shows both
    dtrb = Charset.from_file()
    r2 = convert_sources([(label_file, "paddleocr", None)], tmp_path / "dtrb", dtrb, processes=2)
    assert r2.written == 6 and "unknown_chars" not in r2.counts
    row = pd.read_parquet(r2.manifest).set_index("label").loc["straße"]
    assert (row.label_norm, row.status) == ("strae", "ok")


def test_paths_relative_to_a_data_dir(tmp_path):
    """PaddleOCR's docs write paths from its data_dir (train_data/rec/train/...): --images-root."""
    paddleocr_tree(tmp_path / "train_data" / "rec")
    lists = tmp_path / "lists"
    lists.mkdir()
    lines = (tmp_path / "train_data" / "rec" / "rec_gt_train.txt").read_text().splitlines()[:5]
    (lists / "gt.txt").write_text("".join(f"train_data/rec/{line}\n" for line in lines))
    r = convert_sources([(lists / "gt.txt", "paddleocr", tmp_path)], tmp_path / "out", STRICT, processes=0)
    assert (r.samples, r.written) == (5, 5)
    r = convert_sources([(lists / "gt.txt", "paddleocr", None)], tmp_path / "out2", STRICT, processes=0)
    assert r.written == 0 and r.counts == {"missing_file": 5}


def test_folder_icdar_and_lmdb_sources_merge_into_one_lmdb(tmp_path):
    rng = np.random.default_rng(1)
    crops = tmp_path / "crops"
    crops.mkdir()
    for w in ("alpha", "beta"):
        (crops / f"{w}.png").write_bytes(render_word(w, rng))
    (crops / "labels.tsv").write_text("alpha.png\tAlpha\nbeta.png\tbeta\n")
    (tmp_path / "gt.txt").write_text('crops/alpha.png, "Gamma"\ncrops/beta.png, "say \\"hi\\""\n')
    with LmdbWriter(tmp_path / "tree" / "a") as w:
        w.add(render_word("delta", rng), "delta")
    with LmdbWriter(tmp_path / "tree" / "b") as w:
        w.add(b"garbage", "eps")
    assert detect_format(crops) == "folder" and detect_format(tmp_path / "tree") == "lmdb"
    assert detect_format(tmp_path / "gt.txt") == "paddleocr"
    r = convert_sources([(crops, "folder", None), (tmp_path / "gt.txt", "icdar", None),
                         (tmp_path / "tree", "lmdb", None)], tmp_path / "out", STRICT, processes=0)
    assert [lab.decode() for _, _, lab in iter_records(r.dst)] == ["alpha", "beta", "gamma", "delta"]
    rej = json.loads(r.rejections.read_text())
    assert rej["items"] == {"unknown_chars": ["crops/beta.png"], "undecodable": ["b#1"]}
    with pytest.raises(FileNotFoundError, match="no labels.tsv"):
        convert_sources([(tmp_path, "folder", None)], tmp_path / "x", STRICT)
    with pytest.raises(FileNotFoundError, match="label file not found"):
        convert_sources([(crops / "none.txt", "tsv", None)], tmp_path / "x", STRICT)
    assert not (tmp_path / "x").exists()


def test_cli_prints_the_summary_and_writes_the_report(tmp_path, capsys):
    label_file = paddleocr_tree(tmp_path / "rec")
    assert main(["convert", str(label_file), "--out", str(tmp_path / "lmdb"), "--processes", "0"]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path / 'lmdb'}: 5 of 11 rows accepted, 6 rejected (format paddleocr)" in out
    assert "  missing_file: 1  e.g. train/missing.png" in out and "  unknown_chars: 1" in out
    assert f"rejection report (every rejected row, by reason): {tmp_path / 'lmdb.rejections.json'}" in out
    assert json.loads((tmp_path / "lmdb.rejections.json").read_text())["rejected"] == 6
    # nothing usable: exit 1 and a hint when no image path resolves
    assert main(["convert", str(label_file), "--out", str(tmp_path / "none"), "--images-root", str(tmp_path),
                 "--processes", "0"]) == 1
    assert "Pass it as --images-root" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "x")]) == 2
    assert "label file not found" in capsys.readouterr().err


def test_folder_source_config_and_conversion(tmp_path):
    own = tmp_path / "own"
    paddleocr_tree(own)
    ok = {"source": "folder", "folder": {"root": str(own), "train": [{"src": "rec_gt_train.txt"}],
                                         "val": [{"src": "rec_gt_train.txt"}],
                                         "test": [{"src": "rec_gt_train.txt", "name": "mine"}]}}
    params = parse_params({"data": ok, "eval": {"benchmarks": ["mine", "synth_IC15"]}})
    assert params.data.folder.test[0] == OwnSet("rec_gt_train.txt", "paddleocr", None, "mine")
    for data, bench, message in [
        ({**ok, "folder": {**ok["folder"], "val": []}}, ["mine"], "needs data.folder.train and .*val"),
        (ok, ["synth_IC15"], r"test sets \['mine'\] are not in eval.benchmarks"),
        (ok, ["mine", "IIIT5K"], r"\['IIIT5K'\] are neither"),
        ({**ok, "folder": {**ok["folder"], "test": [{"src": "x.txt"}]}}, ["synth_IC15"], "needs a name"),
        ({**ok, "folder": {**ok["folder"], "train": [{"src": "x", "format": "csv"}]}}, ["mine"], "not one"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_params({"data": data, "eval": {"benchmarks": bench}})
    one = (OwnSet("rec_gt_train.txt"),)
    cfg = FolderDataConfig(root=str(own), train=one, val=one, test=(OwnSet("rec_gt_train.txt", name="mine"),))
    results = convert_folder(cfg, tmp_path / "lmdb", tmp_path / "manifests", Charset.from_file(), processes=0)
    assert sorted(results) == ["bench/mine", "train", "val"]
    assert all(r.written == 6 for r in results.values())
    assert (tmp_path / "manifests" / "bench" / "mine.rejections.json").exists()
    assert (tmp_path / "lmdb" / "train" / "data.mdb").exists()
    missing = FolderDataConfig(root=str(own), train=(OwnSet("rec_gt_train.txt"),), val=(OwnSet("gone.txt"),))
    with pytest.raises(FileNotFoundError, match="gone.txt"):
        convert_folder(missing, tmp_path / "lmdb2", tmp_path / "m2", Charset.from_file(), processes=0)
    assert not (tmp_path / "lmdb2").exists()  # checked before anything is written
