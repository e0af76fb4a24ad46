"""Wall time of a whole `dvc repro` and each stage's share of it.

    python bench/pipeline_run.py                       # runs `dvc repro` here (the params.yaml profile)
    python bench/pipeline_run.py --repo /tmp/clone --out reports/bench/pipeline_run.json

DVC prints "Running stage '<name>':" when a stage starts; a stage lasts until the next one starts (or the
run ends), so the shares add up to the whole run. Stages DVC skipped as unchanged do not appear. The output
of `dvc repro` is passed through unchanged. Writes {"machine": {...} (bench/harness.py), "profile",
"git_commit", "exit_code", "total_seconds", "stages": [{"stage", "seconds", "share"}]}. A failing run is
recorded too (exit_code != 0).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import yaml
from harness import Bench, parser  # bench/, on sys.path as the script's folder

STAGE_START = re.compile(r"^Running stage '([^']+)'")


def stage_times(events: list[tuple[float, str]], start: float, end: float) -> list[dict]:
    """(start time, stage) in order, the run's start and end -> [{"stage", "seconds", "share"}]; the time
    before the first stage (DVC reading the pipeline and hashing its inputs) is "(dvc start-up)"."""
    total = end - start
    events = [(start, "(dvc start-up)"), *events]
    out = []
    for (t, name), nxt in zip(events, [*(t for t, _ in events[1:]), end], strict=True):
        secs = nxt - t
        out.append({"stage": name, "seconds": round(secs, 1), "share": round(secs / total, 4) if total else 0.0})
    return out


def main() -> int:
    ap = parser(__doc__, "pipeline_run")
    ap.set_defaults(out=None)  # default: <repo>/reports/bench/pipeline_run.json, the measured checkout's
    ap.add_argument("--repo", default=".", help="the checkout to run `dvc repro` in")
    ap.add_argument("dvc_args", nargs="*", help="extra arguments for `dvc repro`")
    args = ap.parse_args()
    repo = Path(args.repo).resolve()
    out = args.out or repo / "reports" / "bench" / "pipeline_run.json"
    if not (repo / "dvc.yaml").is_file():
        print(f"{repo}: no dvc.yaml here; pass the project checkout with --repo", file=sys.stderr)
        return 2

    events: list[tuple[float, str]] = []
    bench = Bench.start()
    t0 = time.monotonic()
    beside = Path(sys.executable).parent / "dvc"  # the venv's dvc, also when the venv is not activated
    proc = subprocess.Popen([str(beside) if beside.exists() else "dvc", "repro", *args.dvc_args], cwd=repo, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        m = STAGE_START.match(line)
        if m:
            events.append((time.monotonic(), m.group(1)))
    code = proc.wait()
    end = time.monotonic()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    report = {"profile": yaml.safe_load((repo / "params.yaml").read_text()).get("profile"),
              "git_commit": commit, "exit_code": code, "total_seconds": round(end - t0, 1),
              "stages": stage_times(events, t0, end)}
    bench.write(out, report)
    print(f"dvc repro: exit {code}, {report['total_seconds'] / 60:.1f} min; wrote {out}")
    for s in report["stages"]:
        print(f"  {s['stage']:32s} {s['seconds'] / 60:6.2f} min  {100 * s['share']:5.1f}%")
    return code


if __name__ == "__main__":
    sys.exit(main())
