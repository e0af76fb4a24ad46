import cv2
import numpy as np

from textrec.charset import Charset
from textrec.data.lmdb_io import LmdbWriter
from textrec.export.images import sample_lmdb, sample_lmdbs

CS = Charset.from_file()


def _png(level: int) -> bytes:
    return cv2.imencode(".png", np.full((32, 64, 3), level, np.uint8))[1].tobytes()


def test_sample_spreads_and_reports_undecodable(tmp_path):
    with LmdbWriter(tmp_path / "a") as w:
        for i in range(10):
            w.add(b"not an image" if i == 9 else _png(i * 20), f"w{i}")
    s = sample_lmdb(tmp_path / "a", 4, CS)  # indices 1, 4, 7, 10
    assert s.keys == ["a/image-000000001", "a/image-000000004", "a/image-000000007"]
    assert s.rejected == {"undecodable": ["a/image-000000010"]} and s.images.shape == (3, 3, 32, 100)
    assert s.summary() == {"images": 3, "rejected": {"undecodable": 1}}
    first = sample_lmdb(tmp_path / "a", 2, CS, spread=False)
    assert first.keys == ["a/image-000000001", "a/image-000000002"]
    both = sample_lmdbs([tmp_path / "a", tmp_path / "a"], 2, CS)
    assert len(both.keys) == 2 and both.rejected == {"undecodable": ["a/image-000000010"] * 2}


def test_a_record_training_rejects_is_not_sampled(tmp_path):
    """An image whose label training refuses (too long here) is not an export check's input either."""
    with LmdbWriter(tmp_path / "b") as w:
        w.add(_png(10), "ok")
        w.add(_png(20), "x" * 26)
    s = sample_lmdb(tmp_path / "b", 2, CS)
    assert s.keys == ["b/image-000000001"] and s.rejected == {"too_long": ["b/image-000000002"]}
