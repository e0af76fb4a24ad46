from __future__ import annotations

import json

import lmdb
import numpy as np
import pytest

from tests.data.raw_lmdb import write_raw
from tests.training.wordimages import random_words, render_word, write_word_lmdb
from textrec.charset import Charset
from textrec.data.dataset import BadRecordError, LmdbTextDataset, collate_batch
from textrec.data.reasons import RECORD_REASONS


@pytest.fixture()
def mixed_lmdb(tmp_path):
    rng = np.random.default_rng(0)
    good = render_word("abc", rng)
    records = [
        (good, b"Hello"),  # 1 ok: lower-cased -> "hello"
        (b"\x89PNG not really", b"broken"),  # 2 corrupt image bytes
        (None, b"noimage"),  # 3 missing image key
        (good, None),  # 4 missing label key
        (good, b"a" * 26),  # 5 longer than 25
        (good, b"!!--"),  # 6 empty once normalised (unknown chars dropped)
        (good, b"\xff\xfe"),  # 7 label not utf-8
        (render_word("42x", rng), b"42x"),  # 8 ok
        (b"", b"empty"),  # 9 empty image bytes
    ]
    write_raw(tmp_path / "mixed", records)
    return tmp_path / "mixed"


def test_index_pass_rejects_and_reports_every_bad_record(mixed_lmdb, tmp_path):
    ds = LmdbTextDataset(mixed_lmdb, Charset.from_file())
    assert len(ds) == 2
    rep = ds.report
    assert (rep.total, rep.accepted) == (9, 2)
    counts = rep.counts()
    assert counts == {"missing_image": 1, "missing_label": 1, "label_not_utf8": 1, "undecodable": 2,
                      "empty": 1, "too_long": 1, "unknown_chars": 0}
    assert tuple(counts) == RECORD_REASONS  # the one vocabulary, shared with manifests and evaluation
    by_index = {r.index: r for r in rep.rejections}
    assert sorted(by_index) == [2, 3, 4, 5, 6, 7, 9]
    assert by_index[2].reason == "undecodable" and by_index[2].key.endswith("::image-000000002")
    assert by_index[5].reason == "too_long" and by_index[6].reason == "empty"
    # Accepted records only, in order, never replaced by another sample.
    assert [ds.text(i) for i in range(len(ds))] == ["hello", "42x"]
    x, ids, n, _ = ds[0]
    assert x.shape == (3, 32, 100) and x.dtype == np.float32
    assert ids.shape == (25,) and ids.dtype == np.int64 and int(n) == 5
    assert ds.charset.decode_ids(ids[:n]) == "hello" and not ids[n:].any()
    out = json.loads(rep.write_json(tmp_path / "report.json").read_text())
    assert out["rejected"] == 7 and out["counts"]["undecodable"] == 2
    assert {r["key"] for r in out["rejections"]} == {r.key for r in rep.rejections}


def test_unknown_chars_rejected_when_charset_keeps_them(mixed_lmdb, tmp_path):
    rng = np.random.default_rng(1)
    write_raw(tmp_path / "strict", [(render_word("ab", rng), b"a#b"), (render_word("ab", rng), b"ab")])
    ds = LmdbTextDataset(tmp_path / "strict", Charset.from_file(drop_unknown=False))
    assert len(ds) == 1 and ds.report.counts()["unknown_chars"] == 1
    assert ds.report.rejections[0].detail == "a#b"


def test_lazy_image_check_raises_with_the_key(mixed_lmdb):
    ds = LmdbTextDataset(mixed_lmdb, Charset.from_file(), check_images=False)
    assert ds.report.counts()["undecodable"] == 0  # not decoded in the index pass ...
    bad = [i for i in range(len(ds)) if ds.text(i) in ("broken", "empty")]
    assert len(bad) == 2
    with pytest.raises(BadRecordError, match="image-000000002"):  # ... so reading it fails loudly
        ds[bad[0]]


def test_missing_root_and_non_dtrb_lmdb_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no LMDB"):
        LmdbTextDataset(tmp_path / "nope", Charset.from_file())
    env = lmdb.open(str(tmp_path / "plain"), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"x", b"y")
    env.close()
    with pytest.raises(ValueError, match="num-samples"):
        LmdbTextDataset(tmp_path / "plain", Charset.from_file())


def test_collate_shapes():
    s = [(np.zeros((3, 32, 100), np.float32), np.arange(25, dtype=np.int64), np.int64(3),
          np.full(25, np.nan, np.float32))] * 4
    images, labels, lengths, char_pos = collate_batch(s)
    assert images.shape == (4, 3, 32, 100) and labels.shape == (4, 25) and lengths.tolist() == [3] * 4
    assert labels.dtype == np.int64 and lengths.dtype == np.int64
    assert char_pos.shape == (4, 25) and char_pos.dtype == np.float32


def test_multiworker_loader_reads_each_sample_once(tmp_path):
    import paddle

    rng = np.random.default_rng(2)
    words = random_words(40, rng)
    write_word_lmdb(tmp_path / "tree" / "a" / "one", words[:23], seed=1)
    write_word_lmdb(tmp_path / "tree" / "b", words[23:], seed=2)
    ds = LmdbTextDataset(tmp_path / "tree", Charset.from_file())
    assert len(ds) == 40 and len(ds.paths) == 2
    assert ds.text(0) in words  # the parent now holds an open env: workers must still be able to open theirs
    batches = [list(range(i, min(i + 6, 40))) for i in range(0, 40, 6)]
    loader = paddle.io.DataLoader(ds, batch_sampler=batches, collate_fn=collate_batch, num_workers=2)
    seen = []
    for images, labels, lengths, _ in loader:
        assert list(images.shape[1:]) == [3, 32, 100]
        labels, lengths = np.asarray(labels), np.asarray(lengths)
        seen += [ds.charset.decode_ids(row[:n]) for row, n in zip(labels, lengths, strict=True)]
    assert sorted(seen) == sorted(words) and len(seen) == 40
    ds.close()


def test_two_datasets_on_one_lmdb_in_one_process(tmp_path):
    """py-lmdb allows one open env per LMDB per process: train = val (overfit runs) must still work."""
    words = random_words(5, np.random.default_rng(3))
    write_word_lmdb(tmp_path / "one", words)
    a = LmdbTextDataset(tmp_path / "one", Charset.from_file())
    a[0]  # a holds the env open
    b = LmdbTextDataset(tmp_path / "one", Charset.from_file())
    assert [b.text(i) for i in range(5)] == [a.text(i) for i in range(5)] == words
    a.close()
    assert b.text(4) == words[4]  # b's handle outlives a's close
    b.close()


def test_character_centres_become_fractions_of_the_padded_input(tmp_path):
    from textrec.data.lmdb_io import LmdbWriter
    from textrec.preprocess import decode_image, resized_width

    rng = np.random.default_rng(4)
    img = render_word("ab", rng)
    with LmdbWriter(tmp_path / "db") as w:
        w.add(img, "ab", (0.25, 0.75))  # centres as fractions of the stored image's width
        w.add(img, "ab")  # no centres (real data)
        w.add(img, "a-b", (0.2, 0.5, 0.8))  # '-' is dropped by the charset: centres no longer pair up
    ds = LmdbTextDataset(tmp_path / "db", Charset.from_file())
    h, w_ = decode_image(img).shape[:2]
    frac = resized_width(h, w_) / 100  # short words do not fill the 100-px input
    pos = ds[0][3]
    np.testing.assert_allclose(pos[:2], [0.25 * frac, 0.75 * frac], rtol=1e-6)
    assert np.isnan(pos[2:]).all()
    assert np.isnan(ds[1][3]).all() and np.isnan(ds[2][3]).all()
    ds.close()
