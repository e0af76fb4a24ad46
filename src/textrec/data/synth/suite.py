"""The synthetic dataset as the pipeline writes it: ``<root>/train``, ``<root>/val`` and one LMDB per
synthetic benchmark under ``<root>/bench/<name>``, plus a summary dict for reports/."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from textrec.config import SynthConfig
from textrec.data.synth.font_scan import summarize
from textrec.data.synth.fonts import load_inventory
from textrec.data.synth.generate import WriteStats, render_pool, write_lmdb
from textrec.data.synth.profiles import BENCHMARKS, profile, profile_mix
from textrec.data.synth.sample import RenderContext
from textrec.data.synth.words import WordMix, load_lexicon

BENCHMARK_NAMES: tuple[str, ...] = tuple(BENCHMARKS)  # all seven synthetic benchmark profiles


def make_context(cfg: SynthConfig) -> RenderContext:
    """Fonts from the inventory and the lexicon, as configured (validates the config's word mix)."""
    lexicon = load_lexicon(cfg.lexicon_size, cfg.lexicon_flatten, max_len=cfg.max_len)
    mix = WordMix(lexicon=cfg.mix_lexicon, random=cfg.mix_random, number=cfg.mix_number, punct=cfg.mix_punct,
                  min_len=cfg.min_len, max_len=cfg.max_len)
    return RenderContext(tuple(load_inventory()), lexicon, mix, cfg.image_format)


def plan(cfg: SynthConfig, benchmarks: Sequence[str], train_val: bool = True
         ) -> list[tuple[str, str, int, int]]:
    """(split name, path under the LMDB root, seed, count) for everything ``write_all`` makes; the
    benchmark names (the pipeline passes eval.benchmarks) must be synthetic profiles. ``train_val=False``:
    the benchmarks only (data.source folder measures forgetting on them)."""
    for name in benchmarks:
        profile(name)  # unknown names fail here, before any work
    profile_mix(cfg.train_styles)  # and so do the train styles
    out = []
    if train_val:
        out += [("train", "train", cfg.seed, cfg.train_size), ("val", "val", cfg.seed, cfg.val_size)]
    out += [(name, f"bench/{name}", cfg.bench_seed, cfg.bench_size) for name in benchmarks]
    return out


def write_all(cfg: SynthConfig, root: str | Path, benchmarks: Sequence[str] = BENCHMARK_NAMES,
              log: Callable[[str], None] = print, train_val: bool = True, progress: bool = False) -> dict:
    """Write every split (``train_val=False``: the benchmarks only); returns the summary (counts, speed,
    fonts, lexicon). ``progress``: a bar per split."""
    root = Path(root)
    ctx = make_context(cfg)
    splits: dict[str, dict] = {}
    styles = profile_mix(cfg.train_styles)  # train and val: TRAIN by default
    with render_pool(ctx, cfg.processes) as pool:  # one pool for every split: workers start once
        for name, rel, seed, n in plan(cfg, benchmarks, train_val):
            prof = styles if name in ("train", "val") else profile(name)
            st: WriteStats = write_lmdb(root / rel, name, ctx, prof, seed, n, cfg.processes, cfg.chunk_size,
                                        pool, progress)
            log(f"synth: {rel}: {st.count} images in {st.seconds:.1f} s ({st.images_per_second:.0f}/s)")
            splits[name] = {"path": rel, "profile": prof.name, "seed": seed, "count": st.count,
                            "seconds": round(st.seconds, 3), "images_per_second": round(st.images_per_second, 1),
                            "mean_bytes": round(st.bytes / max(st.count, 1), 1)}
    return {"processes": cfg.processes, "image_format": cfg.image_format, "lexicon": ctx.lexicon.source,
            "fonts": summarize(list(ctx.faces)), "splits": splits}
