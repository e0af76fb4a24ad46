"""One record check for every reader: training's dataset, evaluation, the export checks' image sample and
conversion's manifest reach the same verdict, with the same reason, on the same LMDB records."""

from __future__ import annotations

import cv2
import lmdb
import numpy as np
import pytest

from tests.data.raw_lmdb import write_raw
from textrec.charset import Charset
from textrec.data.convert import manifest_from_lmdb
from textrec.data.dataset import LmdbTextDataset
from textrec.data.lmdb_io import image_key, iter_records, label_key, read_record
from textrec.data.manifest import STATUS_OK
from textrec.data.records import check_record
from textrec.evaluation.evaluate import evaluate_lmdb
from textrec.export.images import sample_lmdb

CS = Charset.from_file()


def _png(level: int = 120) -> bytes:
    return cv2.imencode(".png", np.full((32, 80, 3), level, np.uint8))[1].tobytes()


# (image, label bytes) as stored, and the verdict every reader must reach (None: usable)
RECORDS: list[tuple[bytes | None, bytes | None, str | None]] = [
    (_png(), b"Hello", None),
    (b"\x89PNG not really", b"broken", "undecodable"),
    (None, b"noimage", "missing_image"),
    (_png(), None, "missing_label"),
    (_png(), b"a" * 26, "too_long"),  # longer than max_text_length 25: evaluation used to score it
    (_png(), b"!!--", "empty"),
    (_png(), b"\xff\xfeok", "label_not_utf8"),  # evaluation and conversion used to read "ok" out of it
    (b"garbage", b"b" * 30, "too_long"),  # the label is judged first, decoded image or not
    (_png(), b"42x", None),
]


@pytest.fixture()
def mixed(tmp_path):
    """A DTRB LMDB written by hand, so that keys can be missing and labels need not be UTF-8."""
    return write_raw(tmp_path / "mixed", [(img, lab) for img, lab, _ in RECORDS])


def _expected() -> dict[str, str]:
    return {f"image-{i:09d}": r for i, (_, _, r) in enumerate(RECORDS, start=1) if r is not None}


def _reads_a(x: np.ndarray) -> np.ndarray:
    """A model that reads "a" in every image: probabilities [N, 25, C]."""
    probs = np.full((len(x), 25, CS.num_classes), 1e-3, np.float32)
    probs[:, :, 0] = 0.5
    probs[:, 3, CS.encode("a").ids[0]] = 0.9
    return probs


def test_the_reader_returns_the_stored_bytes(mixed):
    recs = list(iter_records(mixed))
    assert [(r.image, r.label) for r in recs] == [(img, lab) for img, lab, _ in RECORDS]
    assert [r.index for r in iter_records(mixed, [9, 2])] == [9, 2]
    env = lmdb.open(str(mixed), readonly=True, lock=False)
    with env.begin() as txn:
        assert read_record(txn, 7).label == b"\xff\xfeok"
    env.close()


def test_training_rejects_the_same_records_with_or_without_decoding(mixed):
    for check_images in (True, False):
        ds = LmdbTextDataset(mixed, CS, check_images=check_images)
        got = {r.key.rpartition("::")[2]: r.reason for r in ds.report.rejections}
        want = _expected() if check_images else {k: r for k, r in _expected().items() if r != "undecodable"}
        assert got == want
        ds.close()


def test_evaluation_scores_only_what_training_uses_and_counts_the_rest(mixed):
    ds = LmdbTextDataset(mixed, CS)
    res = evaluate_lmdb(_reads_a, mixed, CS, batch_size=4)
    assert [s.key for s in res.samples] == ["image-000000001", "image-000000009"]
    assert res.count == len(ds)
    assert {k: v for k, v in ds.report.counts().items() if v} == dict(res.rejected)
    assert {k: r for r, keys in res.rejected_keys.items() for k in keys} == _expected()
    assert res.summary()["rejected"] == dict(res.rejected)
    ds.close()


def test_conversion_manifest_and_export_sample_reach_the_same_verdicts(mixed):
    m = manifest_from_lmdb(mixed, CS)
    statuses = dict(zip([f"image-{int(s.rpartition('#')[2]):09d}" for s in m["source"]], m["status"], strict=True))
    assert {k: s for k, s in statuses.items() if s != STATUS_OK} == _expected()
    assert m.loc[m["status"] == "label_not_utf8", "label"].tolist() == ["\\xff\\xfeok"]  # shown, not repaired
    assert m.loc[m["status"] == "too_long", "width"].tolist()[0] == 80  # decoded for its size all the same
    sample = sample_lmdb(mixed, len(RECORDS), CS, spread=False)
    assert sample.keys == ["mixed/image-000000001", "mixed/image-000000009"]
    assert {k.partition("/")[2]: r for r, keys in sample.rejected.items() for k in keys} == _expected()


def test_a_label_without_letters_or_digits_is_trained_on_but_not_scored(tmp_path):
    """With PaddleOCR's English dictionary, "!!" is a label training uses; DTRB's accuracy compares only
    letters and digits, so evaluation counts it apart (``unscorable``) instead of scoring an empty string."""
    en = Charset.from_file("builtin:en")
    assert check_record(_png(), b"!!", en).ok
    env = lmdb.open(str(tmp_path / "p"), map_size=1 << 22)
    with env.begin(write=True) as txn:
        txn.put(image_key(1), _png())
        txn.put(label_key(1), b"!!")
        txn.put(b"num-samples", b"1")
    env.close()

    def blanks(x: np.ndarray) -> np.ndarray:
        probs = np.zeros((len(x), 25, en.num_classes), np.float32)
        probs[:, :, 0] = 1.0
        return probs

    res = evaluate_lmdb(blanks, tmp_path / "p", en)
    assert res.count == 0 and dict(res.rejected) == {"unscorable": 1}
    ds = LmdbTextDataset(tmp_path / "p", en)
    assert len(ds) == 1
    ds.close()
