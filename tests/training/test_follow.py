"""The launching process's bar under data parallel: it follows rank 0's per-step CSV, echoes the launcher's
output above it, and returns the launcher's exit code. The "launcher" here is a small script that writes the
CSV as rank 0 does (rewritten at start, one row a step)."""

import os
import sys
import textwrap
import time

from textrec.training.follow import read_tail, run_following
from textrec.training.metrics_log import MetricsCsv


def test_tail_is_the_last_complete_row_and_the_newest_val_accuracy(tmp_path):
    path = tmp_path / "log.csv"
    assert read_tail(path) is None  # not written yet
    csv = MetricsCsv(path)
    assert read_tail(path) is None  # header only
    csv.append(1, 0, 2.5, 1e-3, 100.0, 0.25)
    for step in range(2, 400):
        csv.append(step, 0, 1.5, 1e-3, 100.0)
    csv.close()
    with path.open("a", encoding="utf-8") as f:
        f.write("400,0,1.2")  # a row being written: not read yet
    tail = read_tail(path, max_bytes=20000)
    assert (tail.step, tail.loss, tail.val_accuracy) == (399, "1.5", "0.250000")
    short = read_tail(path, max_bytes=200)  # a window starting mid-row: the partial first row is dropped
    assert short.step == 399 and short.val_accuracy == ""


def _fake_launcher(tmp_path, csv, rows: int, rc: int) -> list[str]:
    script = tmp_path / "ranks.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path[:0] = {sys.path!r}
        from textrec.training.metrics_log import MetricsCsv
        print("LAUNCH INFO rank 0 started", flush=True)
        csv = MetricsCsv({str(csv)!r})
        for step in range(1, {rows} + 1):
            csv.append(step, 0, 3.0 / step, 1e-3, 50.0, 0.5 if step == {rows} else None)
            time.sleep(0.02)
        print("step {rows}/{rows} done", flush=True)
        sys.exit({rc})
    """), encoding="utf-8")
    return [sys.executable, str(script)]


def test_the_bar_follows_rank_0_and_the_launcher_output_is_kept(tmp_path, capfd):
    csv = tmp_path / "train_log.csv"
    csv.write_text("step,epoch,loss,lr,images_per_second,val_accuracy\n999,0,9,0,0,\n")  # a previous run's
    old = time.time() - 3600
    os.utime(csv, (old, old))
    rc = run_following(_fake_launcher(tmp_path, csv, rows=10, rc=0), csv, total=10, desc="mobilenet_v3",
                       poll_seconds=0.05)
    out, err = capfd.readouterr()
    assert rc == 0
    assert "LAUNCH INFO rank 0 started" in out and "step 10/10 done" in out
    assert "mobilenet_v3" in err and "10/10" in err and "val_acc=0.500000" in err
    assert "999" not in err  # the stale rows of a previous run never show


def test_the_launcher_exit_code_is_returned(tmp_path, capfd):
    csv = tmp_path / "train_log.csv"
    assert run_following(_fake_launcher(tmp_path, csv, rows=2, rc=3), csv, total=None, poll_seconds=0.05) == 3
