"""DVC stage `report`: reports/report.html + summary.md + accuracy.csv from all stages, and reports/metrics.json,
the headline numbers (the only file under dvc.yaml's `metrics:`)."""

from __future__ import annotations

import argparse
import json

from textrec.artifacts import PrepareSummary
from textrec.preflight import load_stage_params, require_writable


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()

    params = load_stage_params("report", args.params)
    paths = params.paths
    require_writable("report", paths.reports)
    from textrec.reporting.collect import accuracy_long, collect  # matplotlib and pandas: after the checks
    from textrec.reporting.headline import headline
    from textrec.reporting.html import build_report

    results = collect(paths, params.model.backbones, params.eval.benchmarks)
    prepare = PrepareSummary.read(PrepareSummary.path(paths))  # what the models were trained on
    table = build_report(results, params.eval.benchmarks, paths.bench_lmdb(), paths.report_html(),
                         paths.summary_md(), params.profile, params.own_benchmarks(), prepare)
    accuracy_long(table).to_csv(paths.accuracy_csv(), index=False)  # the accuracy plot's data (dvc.yaml)
    paths.headline_metrics().write_text(json.dumps(headline(results, table), indent=2) + "\n", encoding="utf-8")
    print(paths.summary_md().read_text())


if __name__ == "__main__":
    main()
