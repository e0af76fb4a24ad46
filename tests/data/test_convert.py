"""Label parsers and conversion to LMDB: normalisation, rejections, manifests, order, atomicity."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from textrec.charset import Charset
from textrec.config.data import ConvertSpec, RealDataConfig
from textrec.data.convert import (
    Sample,
    convert_samples,
    convert_spec,
    manifest_from_lmdb,
    samples_from_label_file,
)
from textrec.data.labels import LabelFormatError, iter_label_file, parse_icdar, parse_line
from textrec.data.lmdb_io import LmdbWriter, iter_records, num_samples
from textrec.data.manifest import COLUMNS

REAL_DEV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real-dev"
CHARSET = Charset.from_file()


def encode(w: int, h: int, ext: str = ".png", seed: int = 0) -> bytes:
    img = np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


# ---- label parsers ------------------------------------------------------------------------------------

def test_parse_icdar_escapes() -> None:
    assert parse_icdar('word_1.png, "Tiredness"') == ("word_1.png", "Tiredness")
    assert parse_icdar(r'word_2.png, "\"Hi\", she said"') == ("word_2.png", '"Hi", she said')
    assert parse_icdar(r'word_3.png, "back\\slash"') == ("word_3.png", "back\\slash")
    assert parse_icdar(r'word_4.png, "a\b"') == ("word_4.png", "a\\b")  # other escapes are kept literally
    for bad in ['word_5.png, Tiredness', 'word_6.png, "open', 'word_7.png, "x" trailing', "no comma"]:
        with pytest.raises(LabelFormatError):
            parse_icdar(bad)


def test_parse_line_formats() -> None:
    assert parse_line("images/a b.png\tGenaxis Theatre", "tsv") == ("images/a b.png", "Genaxis Theatre")
    assert parse_line("test/word_1.png Some label", "space") == ("test/word_1.png", "Some label")
    assert parse_line("a.png\tx y", "auto") == ("a.png", "x y")
    assert parse_line("a.png x y", "auto") == ("a.png", "x y")
    with pytest.raises(LabelFormatError):
        parse_line("a.png x", "tsv")
    with pytest.raises(LabelFormatError):
        parse_line("lonely.png", "space")


def test_icdar_file_with_bom_crlf_and_bad_lines(tmp_path: Path) -> None:
    gt = tmp_path / "gt.txt"
    gt.write_bytes(b'\xef\xbb\xbfword_1.png, "Hello"\r\nword_2.png, "say \\"hi\\""\r\n\r\n'
                   b'word_3.png, broken\r\nword_4.png, "caf\xc3\xa9"\r\nword_5.png, "\xff"\r\n')
    lines = list(iter_label_file(gt, "icdar"))
    assert [(x.lineno, x.path, x.label) for x in lines if x.error is None] == [
        (1, "word_1.png", "Hello"), (2, "word_2.png", 'say "hi"'), (5, "word_4.png", "café")]
    errors = {x.lineno: x.error for x in lines if x.error is not None and not x.blank}
    assert set(errors) == {4, 6}
    assert [x.lineno for x in lines if x.blank] == [3]  # the empty line is reported, as a blank one
    assert "double quote" in errors[4] and "UTF-8" in errors[6]


# ---- conversion -----------------------------------------------------------------------------------------

@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """An image folder + tsv labels with one sample of each rejection reason."""
    img = tmp_path / "src" / "images"
    img.mkdir(parents=True)
    good = {f"g{i}.png": encode(40 + i, 20, seed=i) for i in range(6)}
    good["j.jpg"] = encode(64, 32, ".jpg", seed=9)
    for name, data in good.items():
        (img / name).write_bytes(data)
    (img / "corrupt.png").write_bytes(b"\x89PNG not really")
    (img / "long.png").write_bytes(encode(30, 10, seed=20))
    (img / "empty.png").write_bytes(encode(30, 10, seed=21))
    lines = [f"images/g{i}.png\tWord-{i}!" for i in range(6)] + [
        "images/j.jpg\tJPEG 2024",
        "images/corrupt.png\tcorrupt",
        "images/long.png\t" + "a" * 26,
        "images/empty.png\t!!!",
        "images/nowhere.png\tmissing",
        "this line has no tab",
    ]
    (tmp_path / "src" / "labels.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path / "src"


@pytest.mark.parametrize("processes,chunk", [(0, 256), (2, 3)])
def test_convert_label_file(folder: Path, tmp_path: Path, processes: int, chunk: int) -> None:
    out = tmp_path / "out"
    r = convert_samples(samples_from_label_file(folder / "labels.tsv", "tsv"), out / "lmdb", out / "m.parquet",
                        out / "rej.json", CHARSET, processes=processes, chunk_size=chunk)
    assert (r.samples, r.written) == (12, 7)
    assert r.counts == {"undecodable": 1, "too_long": 1, "empty": 1, "missing_file": 1, "unparseable_line": 1}
    records = list(iter_records(out / "lmdb"))
    assert num_samples(out / "lmdb") == 7
    # Input order kept, labels normalised, original bytes stored (no re-encoding).
    assert [lab.decode() for _, _, lab in records] == [f"word{i}" for i in range(6)] + ["jpeg2024"]
    assert records[0][1] == (folder / "images/g0.png").read_bytes()
    assert records[6][1] == (folder / "images/j.jpg").read_bytes()

    m = pd.read_parquet(out / "m.parquet")
    assert tuple(m.columns) == COLUMNS and len(m) == 12
    row = m.iloc[0]
    assert (row.key, row.source, row.label, row.label_norm, row.width, row.height, row.status) == (
        "image-000000001", "images/g0.png", "Word-0!", "word0", 40, 20, "ok")
    assert row.bytes == len(records[0][1])
    bad = m[m.status != "ok"].set_index("status")
    assert bad.key.isna().all() and bad.label_norm.isna().all()
    assert bad.loc["too_long", "width"] == 30  # decodable: size is still recorded
    assert pd.isna(bad.loc["undecodable", "width"])

    rej = json.loads((out / "rej.json").read_text())
    assert rej["samples"] == 12 and rej["rejected"] == 5
    assert rej["items"]["missing_file"] == ["images/nowhere.png"]
    assert rej["items"]["undecodable"] == ["images/corrupt.png"]
    assert rej["items"]["unparseable_line"][0].startswith("labels.tsv:12: expected 'path<TAB>label'")


BROKEN_PNG = b"\x89PNG\r\n\x1a\n" + b"not really a PNG"  # OpenCV logs "[ERROR:0@...] ... readHeader ..."


@pytest.fixture()
def blank_lines_folder(tmp_path: Path) -> Path:
    """labels.tsv with empty lines (one CRLF) between, after each other and at the end, and two images that
    OpenCV fails to decode loudly."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"g{i}.png").write_bytes(encode(30, 15, seed=i))
    (src / "broken.png").write_bytes(BROKEN_PNG)
    (src / "cut.png").write_bytes(encode(30, 15, seed=7)[:60])  # truncated
    (src / "labels.tsv").write_bytes(b"g0.png\tzero\n\ng1.png\tone\r\n\r\n\nbroken.png\tbad\n"
                                     b"cut.png\tcut\ng2.png\ttwo\n\n")
    return src


@pytest.mark.parametrize("processes", [0, 2])
def test_blank_lines_are_counted_with_their_line_numbers(blank_lines_folder: Path, tmp_path: Path,
                                                         processes: int) -> None:
    out = tmp_path / "out"
    r = convert_samples(samples_from_label_file(blank_lines_folder / "labels.tsv", "tsv"), out / "lmdb",
                        out / "m.parquet", out / "rej.json", CHARSET, processes=processes, chunk_size=2)
    # blank lines are not records: no row, no rejection (the validation gate is not tripped by them) ...
    assert (r.samples, r.written, r.counts) == (5, 3, {"undecodable": 2})
    assert len(pd.read_parquet(out / "m.parquet")) == 5
    # ... but counted, each with its line
    assert r.blank_lines == 4
    rej = json.loads((out / "rej.json").read_text())
    assert rej["blank_lines"] == {"count": 4, "lines": ["labels.tsv:2", "labels.tsv:4", "labels.tsv:5",
                                                        "labels.tsv:9"]}



@pytest.mark.parametrize("processes", [0, 2])
def test_opencv_decode_errors_stay_off_stderr(blank_lines_folder: Path, tmp_path: Path, processes: int,
                                             capfd) -> None:
    level = cv2.utils.logging.getLogLevel()
    out = tmp_path / "out"
    r = convert_samples(samples_from_label_file(blank_lines_folder / "labels.tsv", "tsv"), out / "lmdb",
                        out / "m.parquet", out / "rej.json", CHARSET, processes=processes, chunk_size=2)
    assert r.counts == {"undecodable": 2}  # our count of the images OpenCV cannot read, by path:
    assert json.loads((out / "rej.json").read_text())["items"]["undecodable"] == ["broken.png", "cut.png"]
    err = capfd.readouterr().err  # file descriptor 2, the spawned workers' too
    assert "readHeader" not in err and "[ERROR:" not in err and "[ WARN:" not in err, err
    assert cv2.utils.logging.getLogLevel() == level  # restored for the caller (in-process path)


def test_cli_reports_blank_lines(blank_lines_folder: Path, tmp_path: Path, capsys) -> None:
    from textrec.cli import main

    assert main(["convert", str(blank_lines_folder), "--out", str(tmp_path / "lmdb"), "--processes", "0"]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path / 'lmdb'}: 3 of 5 rows accepted, 2 rejected (format folder)" in out
    assert ("  blank lines (no record, not counted as rows): 4  at labels.tsv:2, labels.tsv:4, labels.tsv:5, "
            "...\n") in out


def test_failed_conversion_leaves_no_output(folder: Path, tmp_path: Path) -> None:
    def boom():
        yield from samples_from_label_file(folder / "labels.tsv", "tsv")
        raise OSError("disk went away")

    out = tmp_path / "out"
    with pytest.raises(OSError, match="disk went away"):
        convert_samples(boom(), out / "lmdb", out / "m.parquet", out / "rej.json", CHARSET, processes=0)
    assert not (out / "lmdb").exists() and not (out / "m.parquet").exists() and not (out / "rej.json").exists()
    assert [p.name for p in out.iterdir()] == []  # temporary files removed too


def _source_lmdb(path: Path) -> list[bytes]:
    images = [encode(50, 25, seed=i) for i in range(4)]
    with LmdbWriter(path) as w:
        w.add(images[0], "HELLO")
        w.add(b"garbage", "world")
        w.add(images[2], "x" * 30)
        w.add(images[3], "Caf3")
    return images


def test_convert_lmdb_tree_via_spec(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    images = _source_lmdb(raw / "dtrb" / "evaluation" / "SVT")
    _source_lmdb(raw / "dtrb" / "evaluation" / "CUTE80")
    spec = ConvertSpec(src="dtrb/evaluation", dst="bench", format="lmdb")
    results = convert_spec(spec, raw, tmp_path / "lmdb", tmp_path / "manifests", CHARSET, RealDataConfig(processes=0))
    assert sorted(r.dst.relative_to(tmp_path / "lmdb").as_posix() for r in results) == ["bench/CUTE80", "bench/SVT"]
    recs = list(iter_records(tmp_path / "lmdb" / "bench" / "SVT"))
    assert [(img, lab) for _, img, lab in recs] == [(images[0], b"hello"), (images[3], b"caf3")]
    assert (tmp_path / "manifests" / "bench" / "SVT.parquet").exists()
    rej = json.loads((tmp_path / "manifests" / "bench" / "SVT.rejections.json").read_text())
    assert rej["counts"] == {"undecodable": 1, "too_long": 1}
    assert rej["items"]["undecodable"] == ["SVT#2"]


def test_convert_spec_icdar_with_images_root(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    (raw / "imgs").mkdir(parents=True)
    (raw / "imgs" / "word_1.png").write_bytes(encode(20, 10))
    (raw / "gt").mkdir()
    (raw / "gt" / "gt.txt").write_bytes(b'\xef\xbb\xbfword_1.png, "\\"Quote\\""\r\n')
    spec = ConvertSpec(src="gt/gt.txt", dst="bench/IC13", format="icdar", images_root="imgs")
    [r] = convert_spec(spec, raw, tmp_path / "lmdb", tmp_path / "man", CHARSET, RealDataConfig(processes=0))
    assert r.written == 1 and [lab for _, _, lab in iter_records(r.dst)] == [b"quote"]


def test_convert_spec_missing_source_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no LMDB"):
        convert_spec(ConvertSpec(src="nothing", dst="bench/X"), tmp_path, tmp_path / "l", tmp_path / "m",
                     CHARSET, RealDataConfig())
    with pytest.raises(FileNotFoundError, match="label file not found"):
        convert_spec(ConvertSpec(src="labels.txt", dst="bench/X", format="tsv"), tmp_path, tmp_path / "l",
                     tmp_path / "m", CHARSET, RealDataConfig())


def test_manifest_from_lmdb(tmp_path: Path) -> None:
    _source_lmdb(tmp_path / "src")
    m = manifest_from_lmdb(tmp_path / "src", CHARSET, processes=2, chunk_size=1)
    assert tuple(m.columns) == COLUMNS
    assert list(m.status) == ["ok", "undecodable", "too_long", "ok"]
    assert list(m.key) == [f"image-{i:09d}" for i in range(1, 5)]
    assert list(m.label_norm.fillna("<null>")) == ["hello", "<null>", "<null>", "caf3"]
    assert list(m.width.fillna(-1)) == [50, -1, 50, 50]


def test_inspect_missing_image_in_lmdb(tmp_path: Path) -> None:
    out = tmp_path / "o"
    r = convert_samples([Sample("x#1", "abc", None, missing="missing_image"), Sample("x#2", None, encode(9, 9))],
                        out / "l", out / "m.parquet", out / "r.json", CHARSET, processes=0)
    assert r.counts == {"missing_image": 1, "missing_label": 1} and r.written == 0


def test_real_dev_subset(tmp_path: Path) -> None:
    labels = REAL_DEV / "IC15_train_4468" / "labels.tsv"
    if not labels.exists():
        pytest.skip(f"real-dev data not found at {REAL_DEV}")
    subset = tmp_path / "labels.tsv"
    subset.write_text("".join(labels.read_text(encoding="utf-8").splitlines(keepends=True)[:300]), encoding="utf-8")
    r = convert_samples(samples_from_label_file(subset, "tsv", labels.parent), tmp_path / "l", tmp_path / "m.parquet",
                        tmp_path / "r.json", CHARSET, processes=2)
    m = pd.read_parquet(tmp_path / "m.parquet")
    assert r.samples == 300 and r.written == (m.status == "ok").sum() >= 290
    assert m.loc[0, "label_norm"] == "genaxistheatre"  # "Genaxis Theatre": lower-cased, space dropped
    assert (m.height > 0).all()
