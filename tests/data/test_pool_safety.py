"""No library pool forks (issue 10): conversion inside a process full of library threads finishes.

A ``fork`` copies the locks of every thread of the caller (paddle's and OpenCV's pools, a Prefect or
ThreadPoolExecutor thread) but not the threads that would release them, so a forked worker can block
forever. The stress test runs conversions with 2 workers, several times, in a child process that keeps
paddle, OpenCV and a thread pool busy; the child runs under a timeout, so a hang fails instead of hanging.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"

# paddle.io.DataLoader forks its workers (default multiprocessing context, no option to choose another).
# The trainer is its only user in the library; num_workers defaults to 0 (see training/loop.py: _loader).
DATALOADER_ALLOWED = {"textrec/training/loop.py"}


def _write_images(root: Path, n: int) -> Path:
    """``n`` small images (grayscale PNGs, which cv2 converts to BGR with a parallel_for, and JPEGs)."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    lines = []
    for i in range(n):
        gray = i % 2 == 0
        img = rng.integers(0, 255, (32, 64 + i % 50) if gray else (32, 64 + i % 50, 3), dtype=np.uint8)
        name = f"images/{i:04d}{'.png' if gray else '.jpg'}"
        (root / name).write_bytes(cv2.imencode(name[-4:], img)[1].tobytes())
        lines.append(f"{name}\tword{i}")
    (root / "labels.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root / "labels.tsv"


def _busy_threads(stop):
    """Start paddle (4 threads), OpenCV (4 threads) and a ThreadPoolExecutor working until ``stop`` is set."""
    import concurrent.futures
    import hashlib
    import threading

    import cv2
    import numpy as np
    import paddle

    from textrec.runtime import configure_runtime

    configure_runtime("cpu", threads=4)
    cv2.setNumThreads(4)
    x = paddle.randn([256, 256])
    paddle.matmul(x, x).numpy()  # paddle's thread pool is up before any conversion starts
    big = np.random.default_rng(1).integers(0, 255, (1024, 1024, 3), dtype=np.uint8)

    def matmul():
        while not stop.is_set():
            paddle.matmul(x, x).numpy()

    def opencv():
        while not stop.is_set():
            cv2.cvtColor(cv2.GaussianBlur(cv2.resize(big, (700, 700)), (5, 5), 0), cv2.COLOR_BGR2GRAY)

    executor = concurrent.futures.ThreadPoolExecutor(4)

    def feed():
        while not stop.is_set():
            futures = [executor.submit(hashlib.sha256, os.urandom(1 << 16)) for _ in range(8)]
            concurrent.futures.wait(futures)

    threads = [threading.Thread(target=f, daemon=True) for f in (matmul, opencv, feed)]
    for t in threads:
        t.start()
    return threads, executor


def stress(root: str, rounds: int) -> None:
    """Child process body: conversions with 2 workers while library threads run."""
    import threading

    from textrec.charset import Charset
    from textrec.data.convert import convert_samples, samples_from_label_file

    root_path = Path(root)
    labels = _write_images(root_path / "src", 120)
    stop = threading.Event()
    threads, executor = _busy_threads(stop)
    for r in range(rounds):
        out = root_path / f"out{r}"
        res = convert_samples(samples_from_label_file(labels, "tsv"), out / "lmdb", out / "m.parquet",
                              out / "rej.json", Charset.from_file(), processes=2, chunk_size=4)
        assert (res.samples, res.written) == (120, 120), res
        print(f"round {r}: {res.written} written", flush=True)
    stop.set()
    for t in threads:
        t.join()
    executor.shutdown()


@pytest.mark.timeout(600)
def test_conversion_with_live_library_threads_finishes(tmp_path: Path) -> None:
    rounds, limit = 6, 420
    code = f"from tests.data.test_pool_safety import stress; stress({str(tmp_path)!r}, {rounds})"
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                              timeout=limit)
    except subprocess.TimeoutExpired as e:
        done = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        pytest.fail(f"conversion hung: {rounds} rounds not done in {limit} s; finished: {done.splitlines()}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("120 written") == rounds, proc.stdout
    # Signs of a fork under live threads even when it did not hang this time (seen with b746339's fork pool,
    # in 9 of 10 rounds): paddle's OpenMP runtime warns in the forked child, and a forked worker inherits
    # paddle's SIGTERM handler, which dumps a C++ stack when Pool.terminate() stops it.
    for sign in ("Forking a process while a parallel region is active", "SIGTERM"):
        assert sign not in proc.stderr, proc.stderr[-3000:]
    print(f"{rounds} rounds in {time.monotonic() - start:.1f} s")


# ---- static check: nothing in the library forks ------------------------------------------------------

def _dotted(node: ast.AST) -> str:
    """``a.b.c`` for a Name/Attribute chain, '' otherwise."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def fork_hazards(source: str, rel: str) -> list[str]:
    """Places in ``source`` that fork, or start processes with the platform's default (Linux: fork) method."""
    tree = ast.parse(source)
    mp_names = {"multiprocessing"}  # local names bound to the multiprocessing module
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mp_names |= {a.asname or a.name for a in node.names if a.name == "multiprocessing"}
        elif isinstance(node, ast.ImportFrom) and node.module == "multiprocessing":
            bad = {a.name for a in node.names} & {"Pool", "Process", "set_start_method", "get_context"}
            found += [f"{rel}:{node.lineno}: from multiprocessing import {n}" for n in sorted(bad)
                      if n != "get_context"]
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        head, _, attr = name.rpartition(".")
        args = [a.value for a in node.args if isinstance(a, ast.Constant)]
        where = f"{rel}:{node.lineno}: {name}"
        if name in {"os.fork", "os.forkpty", "pty.fork"} or attr == "set_start_method":
            found.append(where)
        elif attr == "get_context" and head in mp_names and (not args or args[0] == "fork"):
            found.append(f"{where}({args[0] if args else ''!r})")
        elif head in mp_names and attr in {"Pool", "Process", "Queue", "SimpleQueue", "Manager"}:
            found.append(f"{where} (default start method)")
        elif attr == "ProcessPoolExecutor" and not any(k.arg == "mp_context" for k in node.keywords):
            found.append(f"{where} without mp_context")
        elif attr == "DataLoader" and rel not in DATALOADER_ALLOWED:
            found.append(f"{where} (paddle forks DataLoader workers)")
    return found


def test_no_library_code_forks() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        found += fork_hazards(path.read_text(encoding="utf-8"), rel)
    assert found == []


@pytest.mark.parametrize("snippet", [
    "import multiprocessing as mp\nmp.get_context('fork').Pool(2)",
    "import multiprocessing\nmultiprocessing.Pool(2)",
    "import multiprocessing as mp\nmp.Process(target=print)",
    "from multiprocessing import Pool",
    "import os\nos.fork()",
    "import multiprocessing as mp\nmp.set_start_method('fork')",
    "import concurrent.futures as cf\ncf.ProcessPoolExecutor(2)",
    "import paddle\npaddle.io.DataLoader(ds, num_workers=2)",
])
def test_fork_scan_finds_each_pattern(snippet: str) -> None:
    assert fork_hazards(snippet, "textrec/x.py")


def test_fork_scan_accepts_spawn() -> None:
    ok = ("import multiprocessing as mp\nmp.get_context('spawn').Pool(2)\nmp.get_context('forkserver')\n"
          "import concurrent.futures as cf\ncf.ProcessPoolExecutor(2, mp_context=mp.get_context('spawn'))")
    assert fork_hazards(ok, "textrec/x.py") == []


def test_old_fork_pool_is_found() -> None:
    """The pool of b746339's convert.py (the one that hung) is what the scan catches."""
    old = "import multiprocessing as mp\nwith mp.get_context(\"fork\").Pool(processes) as pool:\n    pass\n"
    found = fork_hazards(old, "textrec/data/convert.py")
    assert found == ["textrec/data/convert.py:2: mp.get_context('fork')"]
