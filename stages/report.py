"""DVC stage `report`: reports/report.html + reports/summary.md + reports/accuracy.csv from all stages."""

from __future__ import annotations

import argparse

from textrec.preflight import load_stage_params, require_writable


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()

    params = load_stage_params("report", args.params)
    paths = params.paths
    require_writable("report", paths.reports)
    from textrec.reporting.collect import accuracy_long, collect  # matplotlib and pandas: after the checks
    from textrec.reporting.html import build_report

    results = collect(paths, params.model.backbones, params.eval.benchmarks)
    table = build_report(results, params.eval.benchmarks, paths.bench_lmdb(), paths.report_html(),
                         paths.summary_md(), params.profile, params.own_benchmarks())
    accuracy_long(table).to_csv(paths.accuracy_csv(), index=False)  # the accuracy plot's data (dvc.yaml)
    print(paths.summary_md().read_text())


if __name__ == "__main__":
    main()
