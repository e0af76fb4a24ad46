"""A verdict per backbone, at the top of the report: what the model is, what it was trained on, whether it
reads. Every sentence comes from the stages' files (train.json, prepare.json, the eval JSONs, the bundled
model's card), never from the backbone's name: a profile that gives ResNet34_vd a real recipe gets a real
verdict, and a few-step run of any backbone is called what it is, a pipeline check."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass

from textrec.artifacts import PrepareSummary, TrainSummary
from textrec.reporting.collect import BackboneResults

# Below this plain mean accuracy over the benchmarks a model "does not read": an untrained CRNN scores 0
# (it emits the CTC blank everywhere) and a word is never right by chance, so a few percent is the first sign
# of reading, not noise.
READS_FROM = 0.05
PADDLEOCR_DATA = "MJSynth + SynthText (PaddleOCR's CRNN doc)"  # what PaddleOCR's release checkpoints saw


@dataclass(frozen=True)
class Verdict:
    backbone: str
    kind: str  # "model" | "pipeline check" | "incomplete" | "as released" | "failed training" | "unknown"
    what: str  # the kind in a sentence: steps, images, where it started
    trained_on: str
    reads: str


def training_data(prepare: PrepareSummary | None) -> tuple[str, int | None]:
    """(what the train split is, its image count) from the prepare stage's summary."""
    if prepare is None:
        return "unknown (no reports/prepare.json)", None
    names, n = prepare.training_images()
    synth = prepare.synthetic
    if synth is not None and names == ["train"] and "train" in synth.splits:
        fonts = synth.fonts.get("files")
        how = ", ".join(x for x in (synth.lexicon and f"words: {synth.lexicon}", fonts and f"{fonts} fonts") if x)
        return f"{n:,} synthetic word images rendered by the prepare stage" + (f" ({how})" if how else ""), n
    kind = "of your own labelled word crops" if prepare.source == "folder" else "real word crops"
    return f"{n:,} {kind} ({', '.join(names)})", n


def _bundled_card(backbone: str) -> dict | None:
    from textrec.models.pretrained import BUNDLED_DIR

    card = BUNDLED_DIR / f"{backbone}.json"
    return json.loads(card.read_text(encoding="utf-8")) if card.is_file() else None


def _start(backbone: str, init: dict) -> str:
    """Where the weights started, with what that checkpoint had been trained on."""
    source = init.get("source", "scratch")
    if source == "scratch":
        return "from scratch"
    if source == "paddleocr":
        return f"from PaddleOCR's release checkpoint (trained on {PADDLEOCR_DATA})"
    if source == "bundled":
        card = _bundled_card(backbone) or {}
        data, seen = card.get("data", {}), card.get("images_seen")
        real = "no real image" if data.get("real_images_used") is False else "real images too"
        return "from the recognizer textrec ships" + (f" ({seen:,} {data.get('source', '')} images seen, {real})"
                                                      if seen else "")
    return f"from {init.get('path') or source}"


def _reads(r: BackboneResults) -> tuple[bool, str]:
    """(whether it reads, the sentence): the plain mean fp32 accuracy, and the empty predictions' share."""
    evals = list(r.eval.values())
    mean = sum(e.accuracy for e in evals) / len(evals)
    empty, count = sum(e.empty_predictions for e in evals), sum(e.count for e in evals)
    empties = f"; {100 * empty / count:.1f}% of its {count:,} images read as empty (∅)" if count else ""
    benches = f"{len(evals)} benchmark{'s' * (len(evals) > 1)}"
    if mean >= READS_FROM:
        return True, f"It reads: mean accuracy {100 * mean:.2f}% over {benches}"
    return False, f"It does not read: mean accuracy {100 * mean:.2f}% over {benches}{empties}"


def _images(seen: int, passes: float | None, n_train: int | None) -> str:
    if passes is None:
        return f"{seen:,} images seen"
    share = f"{100 * passes:.1f}% of one pass" if passes < 1 else f"{passes:.1f} passes"
    return f"{seen:,} images seen, {share} over its {n_train:,} training images"


def _kind(t: TrainSummary, reads: bool, passes: float | None, ran: str) -> tuple[str, str]:
    """(kind, what it is) from how training ended: a time-budget stop, 0 steps on a checkpoint, at most one
    pass from scratch that does not read (a pipeline check), more that still does not read, or a model."""
    scratch = t.init_source == "scratch"
    if not t.recipe_complete:
        return "incomplete", f"The time budget stopped it: {ran}; not the model its recipe specifies"
    if t.steps == 0 and not scratch:
        return "as released", f"Not trained here: {ran}"
    if scratch and not reads and passes is not None and passes <= 1:
        return "pipeline check, not a model", (f"{ran}: enough to prove that every stage runs for this "
                                               "backbone, far too little to learn to read; do not use or "
                                               "compare its accuracy")
    if not reads:
        return "failed training", f"{ran}, and it still does not read; see the training curves"
    return "model", ran


def verdict(r: BackboneResults, prepare: PrepareSummary | None) -> Verdict:
    data, n_train = training_data(prepare)
    reads, reads_text = _reads(r)
    t = r.train
    if not t:
        return Verdict(r.backbone, "unknown", "No training summary (reports/train/<backbone>/train.json)", data,
                       reads_text)
    steps, planned, seen = t.steps, t.planned_steps, t.images_seen
    passes = seen / n_train if n_train else None
    ran = (f"Trained {steps:,} of {planned:,} planned steps {_start(r.backbone, t.init)} "
           f"({_images(seen, passes, n_train)})")
    kind, what = _kind(t, reads, passes, ran)
    if kind == "as released":
        data = "nothing here (0 steps); see where it started"
    return Verdict(r.backbone, kind, what, data, reads_text)


def _sentences(v: Verdict) -> tuple[str, str, str]:
    return f"{v.what}.", f"Trained on: {v.trained_on}.", f"{v.reads}."


def verdicts_html(verdicts: list[Verdict]) -> str:
    items = "".join(f"<li><b>{html.escape(v.backbone)}: {html.escape(v.kind)}</b>. "
                    + " ".join(html.escape(s) for s in _sentences(v)) + "</li>" for v in verdicts)
    return f"<ul>{items}</ul>"


def verdicts_md(verdicts: list[Verdict]) -> list[str]:
    return [f"- **{v.backbone}: {v.kind}**. " + " ".join(_sentences(v)) for v in verdicts]
