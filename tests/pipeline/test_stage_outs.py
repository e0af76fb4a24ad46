"""dvc.yaml's outputs are exactly the paths the PathsConfig methods give, for every stage: the stages write
through those methods, the report and tracking read through them, so the two spellings cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from textrec.config import BACKBONES, PathsConfig, to_dict

REPO = Path(__file__).resolve().parents[2]
# unlike the defaults, so that an output spelled without ${paths.*} shows up
PATHS = PathsConfig(raw="R/raw", downloads="R/dl", lmdb="R/lmdb", manifests="R/man", models="R/models",
                    exported="R/exp", reports="R/rep")


def expected(p: PathsConfig, stage: str, bb: str, bench: str) -> set[Path]:
    return {
        "download": lambda: {Path(p.raw)},
        "prepare": lambda: {Path(p.lmdb), Path(p.manifests), p.prepare_report()},
        "validate": lambda: {p.data_docs(), p.validation_report()},
        "train": lambda: {p.model_dir(bb), p.rejections(bb, "train"), p.rejections(bb, "val"),
                          p.train_summary(bb), p.train_log(bb)},
        "calibrate": lambda: {p.calibration(bb), p.calibration_report(bb)},
        "evaluate": lambda: {p.eval_report(bb, bench)},
        "export": lambda: {*p.inference_model(bb), p.onnx_model(bb), p.export_report(bb)},
        "quantize": lambda: {p.onnx_model(bb, "int8"), p.quantize_report(bb)},
        "report": lambda: {p.report_html(), p.summary_md(), p.accuracy_csv(), p.headline_metrics()},
    }[stage]()


def resolve(text: str, context: dict) -> str:
    def value(m: re.Match) -> str:
        node = context
        for part in m.group(1).split("."):
            node = node[part]
        return str(node)

    return re.sub(r"\$\{([^}]+)\}", value, text)


def declared(stage: dict, context: dict) -> set[Path]:
    """Every outs / metrics / plots path of a stage, templates filled in."""
    entries = [e for key in ("outs", "metrics", "plots") for e in stage.get(key, [])]
    return {Path(resolve(next(iter(e)) if isinstance(e, dict) else e, context)) for e in entries}


STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def test_every_stage_has_its_outputs_here():
    assert set(STAGES) == {"download", "prepare", "validate", "train", "calibrate", "evaluate", "export", "quantize",
                           "report"}


@pytest.mark.parametrize("name", sorted(STAGES))
@pytest.mark.parametrize("bb", BACKBONES)
def test_dvc_outputs_are_the_paths_config_methods(name, bb):
    bench = "some_bench"
    context = {"paths": to_dict(PATHS), "item": {"backbone": bb, "bench": bench}}
    assert declared(STAGES[name], context) == expected(PATHS, name, bb, bench)
