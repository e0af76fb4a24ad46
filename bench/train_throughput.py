"""CPU training throughput of the CRNN (forward + CTC loss + backward + Adam), baseline vs optimised.

    python bench/train_throughput.py                                  # both backbones, batch 64, default configs
    python bench/train_throughput.py --backbones mobilenet_v3 --batch-sizes 64 256 --configs baseline fast dp2
    python bench/train_throughput.py --data ../shared/data/real-dev/IIIT5k_train_2000

Configurations (``textrec.runtime``, ``textrec.training.step``), each run in a fresh process because MKL
reads its CPU setting once:
  baseline  plain eager step, paddle defaults (what PaddleOCR's trainer does)
  runtime   + textrec.runtime.configure_runtime: MKL's AVX2 path on AMD CPUs, glibc keeps freed tensor memory
  fast      + compiled kernels (MobileNetV3: depthwise conv, BatchNorm + activation, squeeze-excite;
            nothing to swap in ResNet34_vd); one process, BatchNorm over the whole batch as in PaddleOCR
  static    fast + paddle.jit.to_static of forward and loss
  threads2  fast with 2 paddle threads
  dp2       fast in 2 data-parallel processes (gloo), half the batch each: BatchNorm sees 32 of 64 images
Steady state: ``--warmup`` untimed steps, then ``--steps`` timed steps, ``--repeats`` times; reported
img/s = batch / median step time. The machine's load is recorded because other jobs share the cores; the
CPU seconds per step of rank 0 are recorded too, since they depend much less on that load than wall time.
The optimizer is the trainer's own (``textrec.training.setup.build_optimizer``) for --params' recipe of the
backbone: its Adam settings, learning rate and gradient clipping.
Writes reports/bench/train_throughput.json: {"schema_version", "machine": {...} (bench/harness.py),
"paddleocr_reference_images_per_second", "results": [{backbone, batch_size, device, images_per_second,
config, optimizer, load_before, load_after, ...}]}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from harness import REPO, Bench, load_average, parser  # bench/, on sys.path as the script's folder

from textrec.config import BACKBONES
from textrec.preprocess import IMAGE_SHAPE

CONFIGS = {  # name -> (configure_runtime's settings, fast_kernels, static, threads, processes)
    "baseline": (False, False, False, None, 1),
    "runtime": (True, False, False, None, 1),
    "fast": (True, True, False, None, 1),
    "static": (True, True, True, None, 1),
    "threads2": (True, True, False, 2, 1),
    "dp2": (True, True, False, None, 2),
}
# PaddleOCR's own trainer on a 2-core machine like this one (issue 2), img/s at batch 64
PADDLEOCR_REFERENCE = {"mobilenet_v3": 29.0, "resnet34_vd": 1.4}


def make_batch(batch: int, data: str | None, seed: int) -> tuple[tuple[np.ndarray, ...], float | None]:
    """(images [B, 3, 32, 100] float32, labels [B, 25] int64 (0-padded), lengths [B] int64), and with
    ``data`` the rate at which this process decoded and preprocessed them (img/s)."""
    if data:
        from textrec.charset import Charset
        from textrec.data.dataset import LmdbTextDataset, collate_batch

        ds = LmdbTextDataset(data, Charset.from_file(), check_images=False)
        if len(ds) < batch:
            raise SystemExit(f"{data}: {len(ds)} usable samples, fewer than one batch of {batch}")
        start = time.perf_counter()
        arrays = collate_batch([ds[i] for i in range(batch)])[:3]  # LMDB read + decode + resize + normalise
        rate = batch / (time.perf_counter() - start)
        ds.close()
        return arrays, rate
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1.0, 1.0, (batch, *IMAGE_SHAPE)).astype("float32")  # normalised pixel range
    lengths = np.clip(rng.poisson(5.0, batch), 1, 25)  # word lengths of typical scene text
    labels = np.zeros((batch, 25), "int64")
    for i, k in enumerate(lengths):
        labels[i, :k] = rng.integers(1, 37, k)
    return (images, labels, lengths.astype("int64")), None


def run_worker(args: argparse.Namespace) -> dict | None:
    """Build, warm up and time one configuration in this process (one rank of ``processes``); the result
    is returned by rank 0."""
    tuned, fast, static, threads, processes = CONFIGS[args.config]
    from textrec.config import load_params, to_dict
    from textrec.runtime import configure_runtime
    from textrec.training.setup import build_optimizer
    from textrec.training.step import build_train_step

    info = configure_runtime("cpu", threads, mkl_avx2=tuned, keep_freed_memory=tuned)  # before any computation
    import paddle

    from textrec.models.crnn import build_model
    from textrec.training.loss import ctc_loss

    net, rank = None, 0
    if processes > 1:
        import paddle.distributed as dist

        dist.init_parallel_env()
        rank = dist.get_rank()
    paddle.seed(1024)
    model = build_model(args.backbone, 37)
    model.train()
    if processes > 1:
        net = paddle.DataParallel(model)
    recipe = load_params(args.params).train.recipe(args.backbone)
    opt = build_optimizer(recipe, model)  # the trainer's: Adam with the recipe's lr, decay and clipping
    step = build_train_step(model, opt, ctc_loss, static=static, amp=False, fast_kernels=fast, net=net)
    share = args.batch_size // processes
    arrays, data_rate = make_batch(args.batch_size, args.data, seed=0)
    part = slice(rank * share, (rank + 1) * share)
    x, y, n = (paddle.to_tensor(a[part]) for a in arrays)
    for _ in range(args.warmup):
        float(step(x, y, n))
    walls, cpus = [], []
    for _ in range(args.repeats * args.steps):
        if processes > 1:
            dist.barrier()
        t, c = time.perf_counter(), time.process_time()
        loss = float(step(x, y, n))  # float(): wait for the step to finish
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    if rank != 0:
        return None
    med = statistics.median(walls)
    per_repeat = [statistics.median(walls[i * args.steps:(i + 1) * args.steps]) for i in range(args.repeats)]
    return {"backbone": args.backbone, "batch_size": args.batch_size, "device": "cpu",
            "images_per_second": round(args.batch_size / med, 2), "config": args.config,
            "optimizer": {"lr": recipe.lr, **to_dict(recipe.optimizer)},
            "processes": processes, "threads": threads or 1, "fast_kernels": fast, "static": static,
            "mkl_cpu_type": info.mkl_cpu_type, "malloc_tuned": info.malloc_tuned,
            "step_seconds_median": round(med, 4),
            "step_seconds_min": round(min(walls), 4),
            "images_per_second_per_repeat": [round(args.batch_size / s, 2) for s in per_repeat],
            # CPU seconds this process used per step; with other jobs on the machine wall time exceeds it
            "cpu_seconds_per_step_rank0": round(statistics.median(cpus), 4),
            "images_per_cpu_second_rank0": round(share / statistics.median(cpus), 1),  # one core's capacity
            "warmup": args.warmup, "steps": args.steps, "repeats": args.repeats, "last_loss": round(loss, 4),
            "data": args.data or "random",
            # single-process decode rate of --data: the loader's cost relative to the step
            "data_images_per_second": None if data_rate is None else round(data_rate, 1)}


def _spawned(args: argparse.Namespace) -> None:
    result = run_worker(args)
    if result is not None:
        print("RESULT " + json.dumps(result), flush=True)


def worker_main(args: argparse.Namespace) -> None:
    if CONFIGS[args.config][4] > 1:
        import paddle.distributed as dist

        dist.spawn(_spawned, args=(args,), nprocs=CONFIGS[args.config][4], backend="gloo")
    else:
        _spawned(args)


def measure(backbone: str, batch: int, config: str, args: argparse.Namespace) -> dict:
    """Run one configuration in a fresh interpreter and return its result with the load around it."""
    steps, warmup = (args.steps, args.warmup) if backbone == "mobilenet_v3" else (args.r34_steps, args.r34_warmup)
    cmd = [sys.executable, __file__, "--worker", "--config", config, "--backbone", backbone,
           "--batch-size", str(batch), "--steps", str(steps), "--warmup", str(warmup),
           "--repeats", str(args.repeats if backbone == "mobilenet_v3" else 1), "--params", str(args.params)]
    if args.data:
        cmd += ["--data", args.data]
    env = {k: v for k, v in os.environ.items() if k != "MKL_DEBUG_CPU_TYPE"}  # each config decides
    before = load_average()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{config}/{backbone}/{batch} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(lines[-1][len("RESULT "):])
    result.update(load_before=before, load_after=load_average())
    return result


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__, "train_throughput")
    p.add_argument("--backbones", nargs="+", choices=BACKBONES, default=list(BACKBONES))
    p.add_argument("--batch-sizes", nargs="+", type=int, default=[64])
    p.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), default=["baseline", "fast", "dp2"])
    p.add_argument("--steps", type=int, default=8, help="timed steps per repeat (MobileNetV3)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--r34-steps", type=int, default=2, help="timed steps for ResNet34_vd (~1-7 img/s)")
    p.add_argument("--r34-warmup", type=int, default=1)
    p.add_argument("--data", help="LMDB to take the batch from (default: random images, word-like labels)")
    p.add_argument("--params", type=Path, default=REPO / "params.yaml", help="whose recipe gives the optimizer")
    p.add_argument("--append", action="store_true",
                   help="keep the results already in --out (a rerun of the same backbone/batch/config replaces it)")
    # internal: one configuration in this process
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--config", default="fast", help=argparse.SUPPRESS)
    p.add_argument("--backbone", default="mobilenet_v3", help=argparse.SUPPRESS)
    p.add_argument("--batch-size", type=int, default=64, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker_main(args)
        return
    bench = Bench.start()
    head = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "paddleocr_reference_images_per_second": PADDLEOCR_REFERENCE}
    results = []
    if args.append and args.out.exists():
        old = json.loads(args.out.read_text())
        head["earlier_runs"] = [*old.get("earlier_runs", []), old["machine"]]  # the machines of the kept results
        results = old["results"]
    for backbone in args.backbones:
        for batch in args.batch_sizes:
            for config in args.configs:
                r = measure(backbone, batch, config, args)
                print(f"{backbone:13s} b{batch:<4d} {config:9s} {r['images_per_second']:8.2f} img/s "
                      f"(per repeat {r['images_per_second_per_repeat']}, load {r['load_before']}"
                      f"->{r['load_after']})", flush=True)
                results = [o for o in results
                           if (o["backbone"], o["batch_size"], o["config"]) != (backbone, batch, config)] + [r]
                # after every run: a long benchmark keeps what it measured
                bench.write(args.out, head | {"results": results})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
