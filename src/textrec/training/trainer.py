"""The training loop: PaddleOCR's CRNN recipe, resumable to the exact same weights.

    result = train(params, "mobilenet_v3", "data/lmdb/train", "data/lmdb/val", "models/mobilenet_v3")

Writes ``<out>/latest.*`` every ``checkpoint_every_steps`` and at the end, ``<out>/best.*`` whenever the
validation accuracy improves (``keep: last``: at the end), and one CSV row per step. ``resume=True``
continues from ``latest`` with the same weights, optimizer moments, data position, schedule step and RNG
states, so an interrupted run ends where an uninterrupted one does. Run under
``python -m paddle.distributed.launch`` for data parallel.
"""

from __future__ import annotations

import base64
import logging
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textrec.artifacts.train import TrainOutcome
from textrec.charset import Charset, dictionary_beside
from textrec.config import Params, to_dict
from textrec.config.data import ValidationConfig
from textrec.config.model import BackboneName
from textrec.config.train import RecipeConfig
from textrec.data.dataset import LmdbTextDataset
from textrec.data.report import DatasetReport, check_rejected_fraction
from textrec.models.checkpoint import FOLD_KEY, read_params
from textrec.runtime import configure_runtime
from textrec.training import checkpointing as ckpt
from textrec.training import distributed
from textrec.training.checkpoint_space import CheckpointSpaceError, check_free_space, estimate_set_bytes
from textrec.training.head_fit import fit_images
from textrec.training.init import InitCheckpoint, init_model
from textrec.training.loop import MetricsSink, NonFiniteLossError, TrainingLoop, backfill
from textrec.training.loss import ctc_frame_loss
from textrec.training.metrics_log import MetricsCsv
from textrec.training.resume import ResumeMode, changed_keys, data_fingerprint, should_resume
from textrec.training.sampler import planned_steps
from textrec.training.setup import (
    build_model_for,
    build_optimizer,
    build_scaler,
    resolve,
    seed_everything,
)
from textrec.training.step import build_train_step
from textrec.training.wise import StartBlend

log = logging.getLogger("textrec.training")
__all__ = ["NonFiniteLossError", "TrainResult", "train"]


@dataclass(frozen=True, kw_only=True)
class TrainResult(TrainOutcome):
    """The trainer's outcome and what the stage writes beside train.json."""

    out_dir: Path
    train_report: DatasetReport
    val_report: DatasetReport | None


def train(config: Params | RecipeConfig, backbone: BackboneName, train_lmdb: str | Path,
          val_lmdb: str | Path | None, out_dir: str | Path, *, resume: ResumeMode = False,
          metrics_csv: str | Path | None = None, charset: Charset | None = None,
          progress: bool = True, init: InitCheckpoint | None = None,
          max_rejected_fraction: float | None = None,
          tracker: Callable[[str | None], MetricsSink | None] | None = None) -> TrainResult:
    """Train ``backbone`` on ``train_lmdb`` (one LMDB or a tree), validating on ``val_lmdb``.

    Checkpoints go to ``out_dir``, one CSV row per step to ``metrics_csv`` (default
    ``<out_dir>/train_metrics.csv``). ``resume``: False (from scratch), True (from ``out_dir/latest``, which
    must exist) or "auto" (resume an unfinished run of the same recipe and data, else start afresh).
    A fresh start loads the recipe's ``init`` (or ``init``, already resolved) into the new model; a resumed
    run ignores it. A dataset that rejects more than ``max_rejected_fraction`` of its records (default: the
    validation gate's ``data.validation.max_rejected_fraction``) stops the run before the model is built.
    ``tracker`` (rank 0) opens a sink that gets every CSV row as it is written, given the run id a resumed
    checkpoint recorded (None afresh): ``textrec.tracking.live.open_training_run``; it may return None.
    """
    spec = resolve(config, backbone, charset)
    recipe, charset = spec.recipe, spec.charset
    # MKL's AVX2 path on AMD and glibc keeping freed tensor memory: before the first paddle computation
    configure_runtime("gpu" if recipe.device == "gpu" else "cpu")
    ctx = distributed.setup(recipe.device, recipe.cpu_threads)
    if not ctx.is_main:
        log.setLevel(logging.WARNING)
    if recipe.batch_size % ctx.world_size:
        raise ValueError(f"batch_size {recipe.batch_size} is not divisible by {ctx.world_size} ranks")
    seed_everything(recipe.seed)
    train_ds = LmdbTextDataset(train_lmdb, charset, check_images=recipe.check_images, image_shape=spec.image_shape)
    val_ds = None if val_lmdb is None else LmdbTextDataset(val_lmdb, charset, check_images=recipe.check_images,
                                                           image_shape=spec.image_shape)
    if max_rejected_fraction is None:  # the validation gate's threshold: corrupt data stops here, by key
        gate = config.data.validation if isinstance(config, Params) else ValidationConfig()
        max_rejected_fraction = gate.max_rejected_fraction
    for ds in (train_ds, val_ds):
        if ds is not None:
            log.info("%s", ds.report.summary())
            check_rejected_fraction(ds.report, max_rejected_fraction)
    steps_per_epoch = len(train_ds) // recipe.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"{train_lmdb}: {len(train_ds)} usable samples, fewer than one batch of {recipe.batch_size}")
    total = planned_steps(len(train_ds), recipe.batch_size, recipe.epochs, recipe.max_steps)
    if recipe.wise_alpha is not None and val_ds is None:  # best is the blend it validates: without, nothing
        raise ValueError("wise_alpha needs a validation set: the blended weights are kept as best when validated")

    model = build_model_for(recipe, backbone, charset.num_classes, ctx)
    opt = build_optimizer(recipe, model)
    scaler = build_scaler(recipe, ctx)
    out = Path(out_dir)
    _prepare_out_dir(ctx, out, model, saves_best=val_ds is not None)
    if ctx.is_main:  # the dictionary beside each checkpoint: what `init: <path>` maps the head by
        out.mkdir(parents=True, exist_ok=True)
        for name in ("best", "latest"):
            dictionary_beside(out / f"{name}.pdparams").write_text(charset.dictionary_text(), encoding="utf-8")
    recipe_dict, fingerprint = to_dict(recipe), data_fingerprint(train_ds)
    resumed_from = None
    if should_resume(resume, out, backbone, charset.num_classes, recipe_dict, fingerprint):
        if (fold := read_params(out / "latest.pdparams").get(FOLD_KEY)) is not None:  # a folded head's run
            opt = build_optimizer(recipe, model.fold_head(fold))
        state = ckpt.load_checkpoint(out, "latest", model, opt)
        if (state.backbone, state.num_classes) != (backbone, charset.num_classes):
            raise ckpt.ResumeError(f"{out}/latest is a {state.backbone} with {state.num_classes} classes, "
                                   f"not a {backbone} with {charset.num_classes}")
        changed = changed_keys(state.recipe, recipe_dict)
        if changed:
            log.warning("resuming with changed recipe keys (%s)", ", ".join(changed))
        if scaler is not None and state.scaler:
            scaler.load_state_dict(pickle.loads(base64.b64decode(state.scaler)))
        state.recipe, state.data, state.finished = recipe_dict, fingerprint, False
        resumed_from = state.step
        if recipe.init != "scratch":
            log.info("resuming: init %r not applied (the run started from %s)", recipe.init,
                     state.init.get("source", "an unrecorded init"))
        log.info("resumed from %s/latest at step %d (epoch %d, position %d)", out, state.step, state.epoch,
                 state.epoch_pos)
    else:
        fit_ds, fit_n = val_ds or train_ds, recipe.init_head_fit_images
        started = init_model(model, config, backbone, charset, ctx, init,
                             (lambda: fit_images(fit_ds, fit_n)) if fit_n else None)
        if model.head.fold is not None:  # init gave it a folded head: new parameters
            opt = build_optimizer(recipe, model)
        # mapped: the start is none of the files; wise_alpha: the blend needs it when the run resumes
        if (isinstance(started.get("head"), dict) or recipe.wise_alpha is not None) and ctx.is_main:
            ckpt.save_weights(out, ckpt.START, model)
        state = ckpt.TrainerState(backbone=backbone, num_classes=charset.num_classes, recipe=recipe_dict,
                                  data=fingerprint, init=started)
    net = model if not ctx.distributed else _data_parallel(model)
    csv = MetricsCsv(metrics_csv or out / "train_metrics.csv", resume_step=resumed_from) if ctx.is_main else None
    step = build_train_step(model, opt, ctc_frame_loss, amp=scaler is not None, fast_kernels=recipe.fast_kernels,
                            require_kernels=False, net=net, scaler=scaler)
    # the live metrics run (rank 0): the checkpoint's run when resuming; saved with every checkpoint
    sink = tracker(state.tracking_run_id) if tracker is not None and ctx.is_main else None
    state.tracking_run_id = sink.run_id if sink is not None else state.tracking_run_id
    if sink is not None and csv is not None and resumed_from is not None:
        backfill(sink, csv.path)
    distributed.wait_for_main(ctx, "tracking-run")  # opening it may take longer than a collective waits
    blend = None
    if recipe.wise_alpha is not None:  # the start: in memory on a fresh run (every rank), its file on a resume
        blend = (StartBlend.of_model(model, recipe.wise_alpha) if resumed_from is None
                 else StartBlend.from_file(model, out / f"{ckpt.START}.pdparams", recipe.wise_alpha))
        log.info("validating and keeping start + %s x (trained - start) as best (wise_alpha, WiSE-FT)",
                 recipe.wise_alpha)
    loop = TrainingLoop(recipe, ctx, model, step, state, train_ds, val_ds, out, csv, total, sink, blend)
    status = "FAILED"
    try:
        loop.run(progress and ctx.is_main)
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        if sink is not None:
            sink.close(status)
        if csv is not None:
            csv.close()
        train_ds.close()
        if val_ds is not None:
            val_ds.close()
    distributed.barrier(ctx)
    return TrainResult(
        steps=state.step, epoch=state.epoch, stop_reason=state.stop_reason, planned_steps=total,
        recipe_complete=state.stop_reason != "time_budget", best_accuracy=state.best_accuracy,
        best_step=state.best_step, last_val_accuracy=state.last_val_accuracy, last_loss=loop.last_loss,
        skipped_batches=state.skipped_batches, seconds=loop.seconds,
        images_per_second=loop.images / loop.seconds if loop.seconds > 0 else 0.0, world_size=ctx.world_size,
        rank=ctx.rank, resumed_from_step=resumed_from, init=state.init,
        tracking_run_id=state.tracking_run_id if ctx.is_main else None,
        out_dir=out, train_report=train_ds.report, val_report=None if val_ds is None else val_ds.report)


def _prepare_out_dir(ctx: distributed.DistContext, out: Path, model, saves_best: bool) -> None:
    """Rank 0 undoes what a killed save left in ``out`` (checkpointing.recover) and checks that the run's
    checkpoints fit on the disk, while the other ranks wait: one process writes there, and every rank
    reads the repaired checkpoint. Raises on every rank if rank 0 failed (none waits in a collective)."""
    error: Exception | None = None
    if ctx.is_main:
        try:
            ckpt.recover(out)
            set_bytes = estimate_set_bytes(len(ckpt.serialise(model.state_dict())), model)
            check_free_space(out, set_bytes, sets=3 if saves_best else 2)
        except Exception as e:  # re-raised below, once the other ranks know
            error = e
    distributed.barrier(ctx)  # however long rank 0's repair took (a collective would give up after 30 s)
    # rank 0's outcome on every rank (0 fine, 1 too little space, 2 another error)
    code = 0.0 if error is None else 1.0 if isinstance(error, CheckpointSpaceError) else 2.0
    code = distributed.all_sum(ctx, [code])[0]
    if error is not None:
        raise error
    if code:
        kind = CheckpointSpaceError if code == 1.0 else RuntimeError
        raise kind(f"rank 0 could not prepare {out} for checkpoints; its log says why")


def _data_parallel(model):
    import paddle

    return paddle.DataParallel(model)
