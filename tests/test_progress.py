"""The progress helper: a bar on a terminal when asked, nothing otherwise; the items pass through unchanged."""

import io

import numpy as np

from textrec import progress
from textrec.charset import Charset
from textrec.inference.predict import predict_paths


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_on_terminal_needs_a_tty_and_no_opt_out(monkeypatch):
    monkeypatch.setattr("sys.stderr", _Stream(tty=False))
    assert not progress.on_terminal()
    monkeypatch.setattr("sys.stderr", _Stream(tty=True))
    assert progress.on_terminal()
    assert not progress.on_terminal(no_progress=True)


def test_quiet_draws_nothing_and_passes_items_through(capsys):
    assert list(progress.track(iter(range(5)), False, total=5, desc="x")) == [0, 1, 2, 3, 4]
    with progress.bar(False, total=3) as b:
        b.update(2)
        b.set_postfix(loss="1.0")
    assert capsys.readouterr().err == ""


def test_a_bar_counts_the_items_on_stderr(capsys):
    assert list(progress.track(range(7), True, total=7, desc="render train", unit="img")) == list(range(7))
    err = capsys.readouterr().err
    assert "render train" in err and "7/7" in err and "img" in err


def test_a_bar_closes_when_the_consumer_stops_early(capsys):
    items = progress.track(range(100), True, total=100, desc="early")
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()
    assert "early" in capsys.readouterr().err


def test_predict_on_a_folder_shows_a_bar_only_when_asked(tmp_path, capsys):
    import cv2

    cs = Charset.from_file()
    files = []
    for i in range(3):
        f = tmp_path / f"{i}.png"
        f.write_bytes(cv2.imencode(".png", np.full((32, 100, 3), 200, np.uint8))[1].tobytes())
        files.append(f)

    def blank(x: np.ndarray) -> np.ndarray:  # [N, 3, 32, W] -> [N, T, C], blank everywhere
        probs = np.zeros((len(x), 25, cs.num_classes), np.float32)
        probs[:, :, 0] = 1.0
        return probs

    quiet = predict_paths(blank, files, cs, batch_size=2)
    assert capsys.readouterr().err == ""
    shown = predict_paths(blank, files, cs, batch_size=2, progress=True)
    assert "predict" in capsys.readouterr().err
    assert [(r.path, r.text) for r in shown] == [(r.path, r.text) for r in quiet] == [(f, "") for f in files]
