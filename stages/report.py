"""DVC stage `report`: reports/report.html + reports/summary.md + reports/accuracy.csv from all stages."""

from __future__ import annotations

import argparse
from pathlib import Path

from textrec.config import load_params
from textrec.reporting.collect import collect
from textrec.reporting.html import build_report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()

    params = load_params(args.params)
    reports = Path(params.paths.reports)
    results = collect(reports, params.model.backbones, params.eval.benchmarks)
    table = build_report(results, params.eval.benchmarks, Path(params.paths.lmdb) / "bench",
                         reports / "report.html", reports / "summary.md", params.profile)
    table.to_csv(reports / "accuracy.csv", index=False)
    print((reports / "summary.md").read_text())


if __name__ == "__main__":
    main()
