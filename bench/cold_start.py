"""Cold start of `textrec predict` on one image in a core install (numpy, onnxruntime, OpenCV; no paddle).

    python bench/cold_start.py                      # builds a fresh core environment in a temp dir (uv)
    python bench/cold_start.py --venv /tmp/core     # or one you made: python -m venv /tmp/core &&
                                                    #   /tmp/core/bin/pip install .

Each run is a whole new process, `<venv>/bin/textrec predict IMAGE` without --model (the bundled ONNX file):
interpreter start, imports, model load, one prediction, output. Reported: wall time (min/median/max over the
runs; the first run, which may read the files from disk, is in the list too), CPU time and peak RSS of each
process (``os.wait4``'s rusage); on a shared machine the CPU time says what the wall time adds up from. For comparison the same command in this environment with
``--model bundled:pdparams`` (paddle, eager). Targets (issue 20): <= 1.5 s and <= 200 MB.
Writes reports/bench/cold_start.json with the machine record (bench/harness.py: the load average around the
runs).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import REPO, Bench, parser  # bench/, on sys.path as the script's folder

KIT = REPO.parent / "shared" / "reference" / "paddleocr-parity"
TARGET_SECONDS, TARGET_RSS_MB = 1.5, 200.0


def core_env(tmp: Path) -> Path:
    """This tree's package installed with its core requirements only, into a fresh environment (uv)."""
    tree = tmp / "tree"  # build from a copy: a build writes egg-info and build/ into its source tree
    shutil.copytree(REPO / "src" / "textrec", tree / "src" / "textrec",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, tree / name)
    env, uv = tmp / "env", [sys.executable, "-m", "uv"]
    subprocess.run([*uv, "venv", "-q", "--python", sys.executable, str(env)], check=True)
    subprocess.run([*uv, "pip", "install", "-q", "--python", str(env / "bin" / "python"), str(tree)], check=True)
    return env


def run_once(cmd: list[str], cwd: Path) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds, peak RSS in MB, stdout) of one process, from fork to exit."""
    with tempfile.TemporaryFile("w+") as err:  # a file, not a pipe: nothing to drain while it runs
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=err, text=True)
        out = proc.stdout.read()  # type: ignore[union-attr]  # until the process closes it (exit)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own resources (getrusage sums all children)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {err.read().strip()[-500:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out  # ru_maxrss: KiB on Linux


def measure(label: str, cmd: list[str], runs: int, cwd: Path) -> dict:
    rows = [run_once(cmd, cwd) for _ in range(runs)]
    secs, cpu, rss = ([r[i] for r in rows] for i in range(3))
    return {"command": label, "runs": runs, "output": rows[0][3].strip(), "seconds": [round(s, 3) for s in secs],
            "seconds_min": round(min(secs), 3), "seconds_median": round(statistics.median(secs), 3),
            "seconds_max": round(max(secs), 3),
            # CPU time (user + system) of the process: what the wall time would be on idle cores, roughly
            "cpu_seconds": [round(c, 3) for c in cpu], "cpu_seconds_median": round(statistics.median(cpu), 3),
            "peak_rss_mb": [round(m, 1) for m in rss],
            "peak_rss_mb_max": round(max(rss), 1)}


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, "cold_start")
    ap.add_argument("--venv", type=Path, help="a core install to measure (default: build one in a temp dir)")
    ap.add_argument("--image", type=Path, default=KIT / "images" / "iiit5k_790_1.png")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--paddle-runs", type=int, default=3, help="runs of --model bundled:pdparams here (0: none)")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        env = args.venv or core_env(Path(tmp))
        probe = subprocess.run([str(env / "bin" / "python"), "-c", "import importlib.util as u; "
                                "print(u.find_spec('paddle') is None)"], capture_output=True, text=True)
        if probe.stdout.strip() != "True":
            raise SystemExit(f"{env}: paddle is installed there; this measures the core install (no paddle)")
        bench = Bench.start()
        core = measure("<core venv>/bin/textrec predict IMAGE", [str(env / "bin" / "textrec"), "predict",
                                                                  str(args.image)], args.runs, Path(tmp))
        paddle = measure("<project venv>/bin/textrec predict IMAGE --model bundled:pdparams",
                         [str(Path(sys.executable).with_name("textrec")), "predict", str(args.image), "--model",
                          "bundled:pdparams"], args.paddle_runs, Path(tmp)) if args.paddle_runs else None
    result = {
        "what": "wall time and peak RSS of one `textrec predict IMAGE` process (no --model: the bundled ONNX) "
                "in a core install without paddle",
        "image": str(args.image.relative_to(REPO.parent)) if args.image.is_relative_to(REPO.parent) else str(args.image),
        "core": core, "paddle_checkpoint_for_comparison": paddle,
        "targets": {"seconds": TARGET_SECONDS, "peak_rss_mb": TARGET_RSS_MB},
        "passed": core["seconds_median"] <= TARGET_SECONDS and core["peak_rss_mb_max"] <= TARGET_RSS_MB,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    bench.write(args.out, result)
    print(f"core install: median {core['seconds_median']} s [{core['seconds_min']}, {core['seconds_max']}], "
          f"peak RSS {core['peak_rss_mb_max']} MB (targets {TARGET_SECONDS} s, {TARGET_RSS_MB:.0f} MB); "
          + (f"paddle checkpoint: median {paddle['seconds_median']} s, {paddle['peak_rss_mb_max']} MB; " if paddle
             else "") + f"-> {args.out}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
