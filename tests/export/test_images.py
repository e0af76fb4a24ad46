import cv2
import numpy as np

from textrec.data.lmdb_io import LmdbWriter
from textrec.export.images import sample_lmdb, sample_lmdbs


def _png(level: int) -> bytes:
    return cv2.imencode(".png", np.full((32, 64, 3), level, np.uint8))[1].tobytes()


def test_sample_spreads_and_reports_undecodable(tmp_path):
    with LmdbWriter(tmp_path / "a") as w:
        for i in range(10):
            w.add(b"not an image" if i == 9 else _png(i * 20), f"w{i}")
    s = sample_lmdb(tmp_path / "a", 4)  # indices 1, 4, 7, 10
    assert s.keys == ["a/image-000000001", "a/image-000000004", "a/image-000000007"]
    assert s.undecodable == ["a/image-000000010"] and s.images.shape == (3, 3, 32, 100)
    first = sample_lmdb(tmp_path / "a", 2, spread=False)
    assert first.keys == ["a/image-000000001", "a/image-000000002"]
    both = sample_lmdbs([tmp_path / "a", tmp_path / "a"], 2)
    assert len(both.keys) == 2 and both.undecodable == ["a/image-000000010"] * 2
