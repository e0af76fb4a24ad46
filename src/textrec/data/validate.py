"""Validation gate over manifests with great-expectations 1.24 (imported lazily: it takes 6-10 s).

One suite, built from ``ValidationConfig`` and the charset, runs on every manifest (``manifest.COLUMNS``):
row count, columns, rejected fraction (``status`` other than "ok", via ``mostly``), label regex and length,
image size bounds (on kept rows) and the duplicate rate of image bytes. HTML data docs go to ``docs_dir``;
``check()`` raises ``DataValidationError`` naming every failed expectation with offending examples.

The rows validated are the LMDB records themselves (``lmdb_manifests``): every record is read and its image
decoded again (5-8 s for the demo's 40k images on 2 busy cores), so a record corrupted after ``prepare``
wrote its manifest fails the gate by key; a record that no longer matches the manifest (sha1, status,
label) fails it too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from textrec.artifacts import ValidationSummary
from textrec.charset import Charset
from textrec.config.data import ValidationConfig
from textrec.data.convert import inspect_pool, manifest_from_lmdb
from textrec.data.lmdb_io import find_lmdbs
from textrec.data.manifest import COLUMNS, STATUS_OK, read_manifest, reconcile

SUITE = "textrec_manifest"
MATCHES_MANIFEST = "expect_lmdb_records_to_match_manifest"  # checked here, not by GX


class DataValidationError(RuntimeError):
    """At least one manifest failed the expectation suite."""


@dataclass(frozen=True)
class Failure:
    expectation: str  # e.g. "expect_column_values_to_match_regex"
    column: str | None
    observed: Any  # GX's observed value, or the count and share of unexpected rows
    examples: list[Any]  # offending rows: {"source": ..., "<column>": value}


@dataclass(frozen=True)
class ManifestReport:
    name: str
    success: bool
    rows: int
    ok_rows: int
    rejected_fraction: float
    duplicate_fraction: float  # among kept rows
    evaluated: int
    failures: tuple[Failure, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def label_regex(charset: Charset) -> str:
    """``^[<dictionary characters>]{1,<max length>}$`` for normalised labels."""
    chars = "".join(re.escape(c) for c in charset.characters)
    return f"^[{chars}]{{1,{charset.max_text_length}}}$"


def build_expectations(cfg: ValidationConfig, charset: Charset) -> list:
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    ok = Column("status") == STATUS_OK  # label and size rules apply to the rows that were kept
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=cfg.min_rows),
        gxe.ExpectTableColumnsToMatchSet(column_set=list(COLUMNS), exact_match=True),
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=[STATUS_OK],
                                        mostly=1.0 - cfg.max_rejected_fraction),
        gxe.ExpectColumnValuesToNotBeNull(column="label_norm", row_condition=ok),
        gxe.ExpectColumnValuesToMatchRegex(column="label_norm", regex=label_regex(charset), row_condition=ok),
        gxe.ExpectColumnValueLengthsToBeBetween(column="label_norm", min_value=1,
                                                max_value=charset.max_text_length, row_condition=ok),
        gxe.ExpectColumnValuesToBeBetween(column="width", min_value=cfg.min_width, max_value=cfg.max_width,
                                          row_condition=ok),
        gxe.ExpectColumnValuesToBeBetween(column="height", min_value=cfg.min_height,
                                          max_value=cfg.max_height, row_condition=ok),
        gxe.ExpectColumnProportionOfUniqueValuesToBeBetween(column="sha1", row_condition=ok,
                                                            min_value=1.0 - cfg.max_duplicate_fraction),
    ]


def _asset_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "manifest"


def _records(df) -> list[dict[str, Any]]:
    """Rows as dicts with None for missing values (validation.json must stay valid JSON: no NaN)."""
    obj = df.astype(object)
    return obj.where(df.notna(), None).to_dict("records")


def _examples(df, etype: str, column: str | None, kwargs: dict, limit: int) -> list[Any]:
    """Offending rows for a failed expectation, computed with pandas (GX only returns values)."""
    kept = df[df["status"] == STATUS_OK]
    if column == "status":
        bad = df[df["status"] != STATUS_OK]
        return _records(bad[["key", "source", "status"]].head(limit))
    if column == "sha1":
        dup = kept[kept["sha1"].duplicated(keep=False)].groupby("sha1")["source"].apply(list)
        return [{"sha1": h, "sources": s[:5]} for h, s in dup.head(limit).items()]
    if column is None or column not in df.columns:
        return []
    col = kept[column]
    if etype == "expect_column_values_to_not_be_null":
        bad = kept[col.isna()]
    elif etype == "expect_column_values_to_match_regex":
        bad = kept[col.notna() & ~col.astype(str).str.contains(kwargs["regex"], regex=True)]
    elif etype == "expect_column_value_lengths_to_be_between":
        n = col.str.len()
        bad = kept[col.notna() & ((n < kwargs["min_value"]) | (n > kwargs["max_value"]))]
    elif etype == "expect_column_values_to_be_between":
        bad = kept[col.notna() & ((col < kwargs["min_value"]) | (col > kwargs["max_value"]))]
    else:
        return []
    return bad[["source", column]].head(limit).astype(object).to_dict("records")


def lmdb_manifests(lmdb_dir: str | Path, manifests_dir: str | Path, charset: Charset, processes: int = 2,
                   max_examples: int = 20) -> tuple[dict[str, Any], dict[str, list[Failure]]]:
    """The rows to validate for every LMDB under ``lmdb_dir``, read from its records, and the failures found
    holding them against ``<manifests_dir>/<name>.parquet`` (``manifest.reconcile``); name -> DataFrame and
    name -> failures. A manifest whose LMDB is gone is validated as it is and fails."""
    lmdb_dir, manifests_dir = Path(lmdb_dir), Path(manifests_dir)
    written = {}
    if manifests_dir.is_dir():
        for p in sorted(manifests_dir.rglob("*.parquet")):
            written[p.relative_to(manifests_dir).with_suffix("").as_posix()] = p
    frames: dict[str, Any] = {}
    failures: dict[str, list[Failure]] = {}
    lmdbs = find_lmdbs(lmdb_dir) if lmdb_dir.is_dir() else []
    with inspect_pool(processes if lmdbs else 0) as pool:  # one pool for every LMDB: spawned workers start once
        for path in lmdbs:
            name = path.relative_to(lmdb_dir).as_posix()
            manifest_path = written.pop(name, None)
            records = manifest_from_lmdb(path, charset, processes, pool=pool)
            frames[name], changed = reconcile(read_manifest(manifest_path) if manifest_path else None, records)
            if len(changed):
                failures[name] = [Failure(
                    MATCHES_MANIFEST, "sha1",
                    f"{len(changed)} of {len(records)} records differ from {manifest_path}: the LMDB changed "
                    "after prepare wrote it; rebuild it (dvc repro prepare)",
                    _records(changed.head(max_examples)))]
    for name, p in written.items():
        frames[name] = read_manifest(p)
        failures[name] = [Failure(MATCHES_MANIFEST, None, f"no LMDB {lmdb_dir / name} for {p}", [])]
    return frames, failures


def validate_manifests(manifests: Mapping[str, Any], cfg: ValidationConfig, charset: Charset,
                       docs_dir: str | Path | None = None,
                       failures: Mapping[str, Sequence[Failure]] | None = None) -> list[ManifestReport]:
    """Run the suite on every manifest (name -> DataFrame); writes HTML data docs into ``docs_dir``.
    ``failures``: found outside the suite (``lmdb_manifests``), listed first; any fails its manifest."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    site = "textrec_docs"  # not "local_site": the ephemeral context already has one in a temp dir
    if docs_dir is not None:
        ctx.add_data_docs_site(site_name=site, site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(Path(docs_dir).resolve())},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}})
    suite = ctx.suites.add(gx.ExpectationSuite(name=SUITE))
    for e in build_expectations(cfg, charset):
        suite.add_expectation(e)
    source = ctx.data_sources.add_pandas(name="manifests")
    actions = [gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=[site])] if docs_dir else []
    reports, used = [], set()
    for name, df in manifests.items():
        asset = _asset_name(name)
        while asset in used:  # "bench/X" and "bench_X" would collide
            asset += "_"
        used.add(asset)
        bd = source.add_dataframe_asset(name=asset).add_batch_definition_whole_dataframe("whole")
        vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=f"{asset}_vd", data=bd, suite=suite))
        cp = ctx.checkpoints.add(gx.Checkpoint(name=f"{asset}_cp", validation_definitions=[vd],
                                               actions=actions, result_format={"result_format": "SUMMARY"}))
        vr = next(iter(cp.run(batch_parameters={"dataframe": df}).run_results.values()))
        found = list((failures or {}).get(name, ()))
        for r in vr.results:
            if r.success:
                continue
            conf = r.expectation_config
            column = conf.kwargs.get("column")
            if "observed_value" in r.result:
                observed: Any = r.result["observed_value"]
            else:
                observed = (f"{r.result.get('unexpected_count')} unexpected rows "
                            f"({r.result.get('unexpected_percent', 0.0):.3g}%)")
            found.append(Failure(conf.type, column, observed,
                                 _examples(df, conf.type, column, conf.kwargs, cfg.max_examples)))
        kept = df[df["status"] == STATUS_OK]
        reports.append(ManifestReport(
            name=name, success=bool(vr.success) and not found, rows=len(df), ok_rows=len(kept),
            rejected_fraction=1.0 - len(kept) / len(df) if len(df) else 0.0,
            duplicate_fraction=float(kept["sha1"].duplicated().mean()) if len(kept) else 0.0,
            evaluated=int(vr.statistics["evaluated_expectations"]), failures=tuple(found)))
    return reports


def summary(reports: list[ManifestReport]) -> ValidationSummary:
    # the reports' values as JSON has them (numpy scalars and the like as str): what a read gives back
    datasets = json.loads(json.dumps({r.name: r.to_dict() for r in reports}, default=str))
    return ValidationSummary(success=all(r.success for r in reports), manifests=len(reports),
                             failed=[r.name for r in reports if not r.success], datasets=datasets)


def write_summary(reports: list[ManifestReport], path: str | Path) -> ValidationSummary:
    data = summary(reports)
    data.write(path)
    return data


def check(reports: list[ManifestReport]) -> None:
    """Raise ``DataValidationError`` listing each failed expectation and offending examples."""
    lines = []
    for r in reports:
        for f in r.failures:
            where = f" on {f.column!r}" if f.column else ""
            lines.append(f"{r.name}: {f.expectation}{where} failed (observed {f.observed}); "
                         f"examples: {json.dumps(f.examples[:5], default=str, ensure_ascii=False)}")
    if lines:
        raise DataValidationError(f"{len(lines)} expectation(s) failed:\n  " + "\n  ".join(lines))
