"""The training loop proper: one pass over deterministic batch plans until a stop condition."""

from __future__ import annotations

import base64
import logging
import math
import pickle
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Protocol

from textrec.artifacts.metrics import train_key
from textrec.config.train import RecipeConfig
from textrec.data.augment import Augmenter, EpochView
from textrec.data.dataset import LmdbTextDataset, collate_batch
from textrec.machine import cpu_model
from textrec.progress import bar as progress_bar
from textrec.training import checkpointing as ckpt
from textrec.training import distributed
from textrec.training.metrics_log import FIELDS, MetricsCsv, Throughput, log_line
from textrec.training.sampler import plan_epoch, shard
from textrec.training.schedules import frame_weight_at, lr_at
from textrec.training.step import TrainStep
from textrec.training.validate import count_correct, set_train_mode
from textrec.training.wise import StartBlend

log = logging.getLogger("textrec.training")
SNAPSHOTS = "snapshots"  # <out>/snapshots/step_<N>.pdparams: train.<backbone>.keep_steps


class MetricsSink(Protocol):
    """Where each step's metrics go as they happen, besides the CSV (rank 0 only): a live MLflow run
    (``textrec.tracking.live``) or anything else. ``log`` must return at once; names are ``train/<CSV column>``."""

    run_id: str

    def log(self, step: int, metrics: dict[str, float]) -> None: ...

    def close(self, status: str) -> None: ...  # "FINISHED" | "FAILED" | "KILLED"


def step_metrics(epoch: int, loss: float, lr: float, ips: float, val: float | None) -> dict[str, float]:
    """One CSV row as sink metrics: the names ``textrec track`` gives the CSV's columns (``train/loss``, ...)."""
    values = dict(zip(FIELDS[1:], (epoch, loss, lr, ips, val), strict=True))
    return {train_key(k): float(v) for k, v in values.items() if v is not None and math.isfinite(v)}


def backfill(sink: MetricsSink, metrics_csv: Path) -> None:
    """Give a resumed run's sink the rows the CSV kept (up to the checkpoint): a killed run may have written
    rows it never sent. The sink drops the steps it holds already."""
    import csv

    with metrics_csv.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            values = {train_key(k): float(v) for k, v in row.items() if k != "step" and v}
            sink.log(int(row["step"]), {k: v for k, v in values.items() if math.isfinite(v)})


class NonFiniteLossError(RuntimeError):
    """The loss became NaN/inf and nan_policy is "stop"."""


def _die_with_parent(_worker_id: int) -> None:
    """Linux: a DataLoader worker is killed when the trainer dies (paddle's workers otherwise outlive a
    SIGKILLed trainer, idle, holding their memory and the trainer's stdout)."""
    import ctypes
    import os
    import signal
    import sys

    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the trainer died before prctl took effect
            os._exit(1)


class TrainingLoop:
    def __init__(self, recipe: RecipeConfig, ctx, model, step: TrainStep, state: ckpt.TrainerState,
                 train_ds: LmdbTextDataset, val_ds: LmdbTextDataset | None, out: Path, csv: MetricsCsv | None,
                 total: int, sink: MetricsSink | None = None, blend: StartBlend | None = None) -> None:
        self.recipe, self.ctx, self.model, self.step = recipe, ctx, model, step
        self.state, self.train_ds, self.val_ds, self.out, self.csv, self.total = (state, train_ds, val_ds, out,
                                                                                  csv, total)
        self.sink, self.blend = sink, blend  # blend: validate (and keep as best) the WiSE-FT weights
        self.last_loss: float | None = None
        self.seconds = 0.0
        self.images = 0
        self._last_eval_step = -1
        self._t0 = 0.0  # monotonic start of this invocation (run)

    def run(self, show_progress: bool) -> None:
        r, st = self.recipe, self.state
        set_train_mode(self.model, r.batch_norm)
        t0 = time.monotonic()
        self._t0 = t0
        st.segments.append({"from_step": st.step, "to_step": st.step, "seconds": 0.0, "cpu": cpu_model(),
                            "world_size": self.ctx.world_size})
        budget = None if r.time_budget_minutes is None else r.time_budget_minutes * 60.0
        bar = progress_bar(show_progress, total=self.total, initial=st.step, unit="step")
        meter = Throughput()
        st.stop_reason, st.finished = "", False
        while not st.stop_reason:
            if st.epoch >= r.epochs:
                st.stop_reason, st.finished = "epochs", True
                break
            if r.max_steps is not None and st.step >= r.max_steps:
                st.stop_reason, st.finished = "max_steps", True
                break
            plan = plan_epoch(self.train_ds.lengths, r.batch_size, r.seed, st.epoch, start_pos=st.epoch_pos,
                              start_step=st.step, curriculum=r.curriculum,
                              max_len=self.train_ds.charset.max_text_length)
            if not plan.batches:  # nothing (left) in this epoch
                st.epoch, st.epoch_pos = st.epoch + 1, 0
                continue
            n = len(plan.batches) if r.max_steps is None else min(len(plan.batches), r.max_steps - st.step)
            batches = [shard(b, self.ctx.rank, self.ctx.world_size) for b in plan.batches[:n]]
            for k, (images, labels, lengths, char_pos) in enumerate(self._loader(batches, plan.epoch)):
                lr = lr_at(st.step, r.lr, self.total, r.schedule)
                over_time = budget is not None and time.monotonic() - t0 > budget
                extra = {"char_pos": char_pos, "frame_weight": frame_weight_at(st.step, r.frame_loss),
                         "ignore_radius": r.frame_loss.ignore_radius}
                loss, stop = self._step(images, labels, lengths, extra, lr, over_time)
                batch_epoch = st.epoch
                st.step += 1
                st.epoch_pos = plan.end_positions[k]
                if k == len(plan.batches) - 1:  # epoch finished: the next batch starts the next epoch
                    st.epoch, st.epoch_pos = st.epoch + 1, 0
                ips = meter.tick(r.batch_size)
                self.images += r.batch_size
                bar.update(1)
                val = self._periodic(loss, lr, ips, meter, batch_epoch)
                if val is not None:
                    bar.set_postfix(val_acc=f"{val:.4f}")
                if stop:
                    st.stop_reason = "time_budget"
                    break
        bar.close()
        self.seconds = time.monotonic() - t0
        self._finish()

    def _loader(self, batches: list[list[int]], epoch: int):
        """The batches of ``epoch`` (all from one epoch plan), augmented as the recipe says: each image a
        function of (seed, epoch, index), so workers and a resumed run read the same batches."""
        import paddle

        dataset = self.train_ds
        if self.recipe.augment:
            dataset = EpochView(self.train_ds, Augmenter(self.recipe.augment, self.recipe.seed), epoch)
        if self.recipe.num_workers > 0:
            self.train_ds.close()  # no LMDB handle of this process may cross the workers' fork
        # paddle forks its workers (default multiprocessing context; DataLoader offers no other). Accepted
        # here, unlike in a library pool (issue 10): num_workers defaults to 0; the fork comes from the main
        # thread between steps, when paddle's OpenMP pool is idle (libiomp re-initialises in the child); the
        # workers only read LMDB, decode with cv2 and collate numpy; and the trainer runs in a stage process
        # of its own, never inside a caller's threads. tests/data/test_pool_safety.py allows it only here.
        return paddle.io.DataLoader(dataset, batch_sampler=batches, collate_fn=collate_batch,
                                    num_workers=self.recipe.num_workers, worker_init_fn=_die_with_parent)

    def _step(self, images, labels, lengths, extra: dict, lr: float, over_time: bool) -> tuple[float, bool]:
        """One batch: forward, agree with the other ranks on finiteness and stopping, then update.
        Returns (loss, stop now)."""
        self.step.optimizer.set_lr(lr)
        # A skipped batch must leave no trace, but its forward pass already moved the BatchNorm running
        # statistics (to NaN, typically). They are the non-trainable entries of the state dict: keep a copy.
        saved = ({n: t.clone() for n, t in self.model.state_dict().items() if t.stop_gradient}
                 if self.recipe.nan_policy == "skip" else {})
        loss = self.step.loss(images, labels, lengths, **extra)
        # all ranks see the global mean loss and take the same decisions
        value, (stop,) = distributed.agree(self.ctx, float(loss), [over_time])
        nonfinite = not math.isfinite(value)
        st = self.state
        if nonfinite:
            where = f"step {st.step + 1} (epoch {st.epoch}, lr {lr:.3g})"
            if self.recipe.nan_policy == "stop":
                raise NonFiniteLossError(f"non-finite loss ({value}) at {where}; stopping (nan_policy 'stop'). "
                                         f"Last checkpoint: {self.out / 'latest.pdparams'}")
            state = self.model.state_dict()
            for n, t in saved.items():
                state[n].set_value(t)
            st.skipped_batches += 1
            log.warning("non-finite loss (%s) at %s: batch skipped (%d so far)", value, where,
                        st.skipped_batches)
            self.step.discard()
            return value, stop
        self.step.apply(loss)
        self.last_loss = value
        return value, stop

    def _periodic(self, loss: float, lr: float, ips: float, meter: Throughput, epoch: int) -> float | None:
        r, st = self.recipe, self.state
        val = None
        if self.val_ds is not None and r.eval_every_steps > 0 and st.step % r.eval_every_steps == 0:
            val = self._evaluate()
        if self.csv is not None and math.isfinite(loss):
            self.csv.append(st.step, epoch, loss, lr, ips, val)
        if self.sink is not None and math.isfinite(loss):  # the same rows as the CSV, as they happen
            self.sink.log(st.step, step_metrics(epoch, loss, lr, ips, val))
        if r.log_every_steps > 0 and st.step % r.log_every_steps == 0:
            log_line(st.step, self.total, epoch, loss, lr, meter.window(), st.skipped_batches, r.batch_size)
        if r.checkpoint_every_steps > 0 and st.step % r.checkpoint_every_steps == 0:
            self._save("latest")
        if st.step in r.keep_steps and self.ctx.is_main:
            self._snapshot()
        # rank 0 alone wrote the CSV row, the MLflow metrics, a checkpoint or a snapshot: the others wait for it
        # through the store before their next collective (gloo gives up after 30 s, a slow disk or server may not)
        distributed.wait_for_main(self.ctx, f"step/{st.step}")
        meter.pause_ended()
        return val

    def _blended(self) -> AbstractContextManager:
        """Inside: the weights validated and kept as best (the WiSE-FT blend, when the recipe has one)."""
        return self.blend.applied() if self.blend is not None else nullcontext()

    def _keep(self, acc: float) -> None:
        """The current (blended) weights, validated at ``acc``, become ``best`` (rank 0 saves)."""
        self.state.best_accuracy, self.state.best_step = acc, self.state.step
        self._save("best")

    def _evaluate(self) -> float:
        """Validation accuracy, each rank scoring its share of the records (a rank idling while another
        validates alone would wait in its next collective, and gloo gives up after a while). ``keep: best``:
        saves ``best`` when it improves."""
        st, ctx = self.state, self.ctx
        self._last_eval_step = st.step
        n = len(self.val_ds)
        with self._blended():
            own = count_correct(self.model, self.val_ds, range(ctx.rank, n, ctx.world_size),
                                batch_size=max(1, self.recipe.batch_size))
            set_train_mode(self.model, self.recipe.batch_norm)
            acc = distributed.all_sum(ctx, [float(own)])[0] / max(1, n)
            st.last_val_accuracy = acc
            log.info("step %d: val accuracy %.4f%s (best %s)", st.step, acc,
                     "" if self.blend is None else f" (wise_alpha {self.blend.alpha})",
                     "-" if st.best_accuracy is None else f"{st.best_accuracy:.4f}")
            if self.recipe.keep == "best" and (st.best_accuracy is None or acc > st.best_accuracy):
                self._keep(acc)
        return acc

    def _save(self, name: str) -> None:
        if not self.ctx.is_main:
            return
        self.state.segments[-1].update(to_step=self.state.step, seconds=round(time.monotonic() - self._t0, 1))
        scaler = self.step.scaler
        if scaler is not None:
            self.state.scaler = base64.b64encode(pickle.dumps(scaler.state_dict())).decode("ascii")
        ckpt.save_checkpoint(self.out, name, self.model, self.step.optimizer, self.state)

    def _snapshot(self) -> None:
        """Weights only, kept for good: the points of a scaling curve (accuracy against images seen)."""
        from textrec.charset import dictionary_beside
        from textrec.models.checkpoint import save_weights

        path = save_weights(self.model, self.out / SNAPSHOTS / f"step_{self.state.step}.pdparams")
        dictionary_beside(path).write_text(self.train_ds.charset.dictionary_text(), encoding="utf-8")
        log.info("step %d: snapshot %s (%d images seen)", self.state.step, path,
                 self.state.step * self.recipe.batch_size)

    def _finish(self) -> None:
        if self.val_ds is not None:
            if self._last_eval_step != self.state.step:
                self._evaluate()
            if self.recipe.keep == "last":  # the final step's weights, as validated just now or at this step
                with self._blended():
                    self._keep(self.state.last_val_accuracy)
        self._save("latest")
        log.info("stopped (%s) at step %d, epoch %d; best val accuracy %s", self.state.stop_reason, self.state.step,
                 self.state.epoch, self.state.best_accuracy)
        if self.state.stop_reason == "time_budget":  # a safety stop: the recipe is defined by its steps
            log.warning("TIME BUDGET EXCEEDED: stopped at step %d of %d after %.1f min "
                        "(time_budget_minutes %s). This model is NOT what the recipe specifies: it saw %d%% of its "
                        "steps. Raise or remove time_budget_minutes, or run on a faster machine.",
                        self.state.step, self.total, self.seconds / 60, self.recipe.time_budget_minutes,
                        100 * self.state.step // max(1, self.total))
