"""The model card of a bundled checkpoint: what it was trained on, how, for how long, on which CPUs, and how
well it reads, gathered from the files the pipeline wrote (files are the contract).

    card = build_card(checkpoint, params, backbone, real_dev_json, repo)  # evaluations: params.paths
    card |= {"dictionary": dictionary_section(name, chars), "files": [file_entry(path, use), ...],
             "onnx": {...}, "calibration": calibration_section(file, bench)}  # what `textrec bundle` ships
    write_card(card, "src/textrec/assets/models/mobilenet_v3")   # -> .json + .md

No paddle import here.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from textrec.artifacts import BenchResult, EvalResult, to_json
from textrec.config import Params, to_dict
from textrec.config.model import BackboneName
from textrec.hashing import sha256_file


def _git_commit(repo: Path) -> dict[str, Any]:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True,
                              check=True).stdout.strip()
        # the code that made the checkpoint; reports/ are its measurements, written before bundling, and
        # params.yaml is the profile it was made with (`textrec profile pretrain`), on the card as data and recipe
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                     ":(exclude)reports", ":(exclude)params.yaml"], cwd=repo, capture_output=True,
                                    text=True, check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": head, "dirty": dirty}


class StaleMeasurement(ValueError):
    """A result the card would quote was measured on other weights than the checkpoint being bundled."""


def _benchmarks(params: Params, backbone: str, names: tuple[str, ...], sha256: str) -> list[dict[str, Any]]:
    """The evaluate stage's results for the weights of ``sha256`` (a missing one, or one measured on other
    weights, names the file and the stage to run before bundling)."""
    rows = []
    for name in names:
        path, stage = EvalResult.path(params.paths, backbone, name), f"evaluate@{backbone}-{name}"
        r = EvalResult.read(path, stage)
        if r.checkpoint_sha256 != sha256:
            raise StaleMeasurement(f"{path}: measured on other weights (sha256 {r.checkpoint_sha256[:12]}, the "
                                   f"checkpoint is {sha256[:12]}): run `dvc repro {stage}` first")
        rows.append({"name": r.name, "count": r.count, "accuracy": r.accuracy})
    return rows


def _real_dev(path: Path, checkpoint: Path, sha256: str) -> dict[str, Any]:
    """bench/real_dev.py's result, only if it measured these weights."""
    rd = BenchResult.read(path)
    if rd.result.get("model_sha256") != sha256:
        raise StaleMeasurement(f"{path}: measured {rd.result.get('model')!r}, not these weights: run "
                               f"`python bench/real_dev.py --model {checkpoint}` first, or pass --real-dev ''")
    return {"machine": to_json(rd.machine), "protocol": rd.result.get("protocol"),
            "datasets": [{k: d.get(k) for k in ("name", "count", "accuracy", "exact_accuracy")}
                         for d in rd.result["real"]["datasets"]]}


def build_card(checkpoint: Path, params: Params, backbone: BackboneName,
               real_dev: Path | None, repo: Path) -> dict[str, Any]:
    """Card for ``checkpoint`` (``<dir>/<name>.pdparams`` with its ``<name>.state.json`` beside it)."""
    state_file = checkpoint.with_name(checkpoint.name.removesuffix(".pdparams") + ".state.json")
    state = json.loads(state_file.read_text(encoding="utf-8"))
    # the run it came from: its newest state says whether the recipe ran to its end (best is often earlier)
    run_file = checkpoint.with_name("latest.state.json")
    run = json.loads(run_file.read_text(encoding="utf-8")) if run_file.exists() else state
    recipe = params.train.recipe(backbone)
    segments = state.get("segments", [])
    sha256 = sha256_file(checkpoint)
    real = None if real_dev is None else _real_dev(real_dev, checkpoint, sha256)
    synth_bench = _benchmarks(params, backbone, params.eval.benchmarks, sha256)
    return {
        "backbone": backbone,
        "num_classes": state["num_classes"],
        "input": list(params.model.image_shape),
        "data": {"source": params.data.source, "synth": to_dict(params.data.synth),
                 "real_images_used": params.data.source != "synthetic"},
        "recipe": to_dict(recipe),
        "init": state.get("init") or {"source": "scratch"},
        "steps": state["step"],
        "planned_steps": recipe.max_steps,
        "run": {"steps": run["step"], "finished": bool(run.get("finished")), "stop_reason": run.get("stop_reason"),
                "last_val_accuracy": run.get("last_val_accuracy")},
        "images_seen": state["step"] * recipe.batch_size,
        "epochs": state["epoch"],
        "best_val_accuracy": state.get("best_accuracy"),
        "training_hours": round(sum(s["seconds"] for s in segments) / 3600, 2),
        "training_segments": segments,
        "synthetic_benchmarks": synth_bench,
        "synthetic_mean_accuracy": sum(r["accuracy"] for r in synth_bench) / max(1, len(synth_bench)),
        "real_dev": real,
        "source": _git_commit(repo),
        "sha256": sha256,  # the .pdparams; every shipped file's is under "files"
    }


def file_entry(path: Path, use: str) -> dict[str, Any]:
    """One shipped file: name (beside the card), what it is for, size and sha256."""
    return {"name": path.name, "use": use, "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def describe_characters(chars: str) -> str:
    """A short name for a dictionary: runs of 3+ consecutive code points as ranges ("0-9a-z")."""
    out, i = [], 0
    while i < len(chars):
        j = i
        while j + 1 < len(chars) and ord(chars[j + 1]) == ord(chars[j]) + 1:
            j += 1
        out.append(f"{chars[i]}-{chars[j]}" if j - i >= 2 else chars[i:j + 1])
        i = j + 1
    return "".join(out).replace(" ", "\u2420")  # space shown as a visible symbol


def dictionary_section(file_name: str, characters: str) -> dict[str, Any]:
    """The dictionary of the bundle: its file, characters in class order (class i+1 = characters[i])."""
    return {"file": file_name, "characters": characters, "size": len(characters),
            "num_classes": len(characters) + 1, "summary": describe_characters(characters)}


def calibration_section(path: Path, bench: BenchResult | None = None) -> dict[str, Any]:
    """The bundle's confidence calibration (``textrec.calibration``): its file, method, what it was fitted on
    and the methods it was chosen among; ``bench``: bench/calibration.py's JSON, whose per-set ECE on real
    photos (held back: never fitted on) is kept when it measured this calibration (same method and
    parameters)."""
    from textrec.calibration import Calibration

    cal = Calibration.load(path)
    out = {"file": path.name, "method": cal.method, "description": cal.describe(), "fitted_on": cal.fitted_on,
           "selection": cal.selection, "real_dev": None}
    result = bench.result if bench else {}
    measured = result.get("synthetic_validation", {}).get("calibration")
    if measured == {"method": cal.method, "parameters": cal.parameters}:
        out["real_dev"] = {"bins": result["bins"], "target_precision": result["target_precision"],
                           "sets": {name: {"count": s["count"], "ece_before": s["ece_before"],
                                           "ece_after": s["synthetic_fit"]["chosen"]["ece_after"],
                                           "coverage": s["synthetic_fit"]["chosen"]["coverage"]}
                                    for name, s in result["sets"].items()}}
    return out


def _calibration_lines(card: dict[str, Any]) -> list[str]:
    c = card.get("calibration")
    if not c:
        return ["", "- confidence: not calibrated (the raw score, the mean of the kept frames' max probabilities)"]
    cv = ", ".join(f"{m} {e:.4f}" for m, e in c["selection"].get("cv_ece", {}).items())
    fitted = c["fitted_on"]
    on = (f"{fitted['count']:,} words of {fitted.get('data', 'unnamed data')} (accuracy {fitted['accuracy']:.1%})"
          if "count" in fitted and "accuracy" in fitted else "data it does not name")
    lines = ["", f"- confidence calibration (`{c['file']}`): {c['description']}, fitted on {on}"
             + (f"; chosen by cross-validated ECE among: {cv}" if cv else "")]
    if c.get("real_dev"):
        rd = c["real_dev"]
        lines += [f"- on real photos never fitted on (ECE, {rd['bins']} bins; coverage at "
                  f"{rd['target_precision']:.0%} precision): " + "; ".join(
                      f"{name} {s['ece_before']:.3f} -> {s['ece_after']:.3f}, coverage {s['coverage']:.1%}"
                      for name, s in rd["sets"].items())]
    return lines


def _classes_text(card: dict[str, Any]) -> str:
    d = card.get("dictionary")
    if d is None:  # a card written before the dictionary was recorded: the built-in one
        return f"{card['num_classes']} classes (blank + 0-9a-z)"
    return f"{d['num_classes']} classes (blank + {d['summary']}, dictionary `{d['file']}`)"


def _files_lines(card: dict[str, Any]) -> list[str]:
    if not card.get("files"):
        return []
    lines = ["", "| file | use | size | sha256 |", "|---|---|---|---|"]
    lines += [f"| `{f['name']}` | {f['use']} | {_size(f['bytes'])} | `{f['sha256']}` |" for f in card["files"]]
    onnx = card.get("onnx")
    if onnx:
        par = onnx["parity"]
        lines += ["", f"- ONNX (opset {onnx['opset']}): max abs difference to the paddle checkpoint "
                  f"{par['max_abs_diff']:.2g} over {par['images']} benchmark crops (tolerance {par['atol']:g})"]
        lines.append(_int8_line(onnx.get("int8")))
    return lines


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 100_000 else f"{n:,} bytes"


def _int8_line(int8: dict[str, Any] | None) -> str:
    if int8 is None:
        return "- INT8: not attempted (`textrec bundle --no-int8`)"
    if int8["shipped"]:
        return (f"- INT8 (plan {int8['plan']}): passed the quantize gates, largest accuracy drop "
                f"{int8['max_accuracy_drop']:.4f} (allowed {int8['allowed_drop']:.4f}), faster than fp32")
    return "- INT8: not shipped, failed gate(s): " + "; ".join(int8["failed_gates"])


def card_markdown(card: dict[str, Any]) -> str:
    segs = card["training_segments"]
    cpus = sorted({s["cpu"] for s in segs})
    lines = [f"# Bundled recognizer: {card['backbone']}", "",
             f"CRNN ({card['backbone']}, 2-layer BiLSTM, CTC), input {'x'.join(map(str, card['input']))}, "
             f"{_classes_text(card)}. Trained by textrec on its own synthetic renders only "
             f"(no real image), from {card['init'].get('source', 'scratch')}.", "",
             f"- steps: {card['steps']:,} x batch {card['recipe']['batch_size']} = {card['images_seen']:,} images "
             f"({card['epochs']} full epoch{'' if card['epochs'] == 1 else 's'} of "
             f"{card['data']['synth']['train_size']:,} renders)",
             _run_line(card),
             f"- training: {card['training_hours']} h wall time in {len(segs)} invocation(s) on {', '.join(cpus)}",
             f"- recipe: lr {card['recipe']['lr']}, {card['recipe']['schedule']['name']} schedule, per-frame "
             f"loss weight {card['recipe']['frame_loss']['weight']} until step "
             f"{card['recipe']['frame_loss']['until_step']}",
             f"- source: commit {card['source']['commit']}{' (dirty tree)' if card['source']['dirty'] else ''}; "
             f"sha256 {card['sha256']}", "", "| set | images | accuracy | exact |", "|---|---|---|---|"]
    lines += [f"| {r['name']} (synthetic) | {r['count']} | {r['accuracy']:.1%} | |" for r in card["synthetic_benchmarks"]]
    if card["real_dev"]:
        lines += [f"| {r['name']} (real) | {r['count']} | {r['accuracy']:.1%} | {_pct(r.get('exact_accuracy'))} |"
                  for r in card["real_dev"]["datasets"]]
    lines += ["", "Accuracy: DTRB protocol (case-insensitive, 0-9a-z only), exact word match. Exact: the label as "
              "annotated, case and punctuation counted (bench/real_dev.py)."]
    lines += _files_lines(card)
    lines += _calibration_lines(card)
    return "\n".join(lines) + "\n"


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x:.1%}"


def _run_line(card: dict[str, Any]) -> str:
    run, best = card["run"], card["best_val_accuracy"]
    if run["finished"]:
        return (f"- the run's best validation checkpoint (accuracy {best}): step {card['steps']:,} of the "
                f"{run['steps']:,} it trained ({run['stop_reason']}; its last validation {run['last_val_accuracy']})")
    return (f"- an intermediate checkpoint: step {card['steps']:,} of the recipe's {card['planned_steps']:,} "
            f"(the run continues; `textrec profile pretrain && dvc repro` trains the whole recipe)")


def write_card(card: dict[str, Any], stem: Path) -> tuple[Path, Path]:
    """``<stem>.json`` and ``<stem>.md``."""
    js, md = stem.with_suffix(".json"), stem.with_suffix(".md")
    js.write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    md.write_text(card_markdown(card), encoding="utf-8")
    return js, md
