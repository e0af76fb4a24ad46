"""The weights a training run starts from: ``train.<backbone>.init``.

* ``scratch``: the seeded fresh initialisation, nothing loaded (the default);
* a path to a ``.pdparams`` file, ours or PaddleOCR's (same names and shapes);
* ``paddleocr``: the backbone's release archive (``textrec.models.pretrained``), fetched once with the
  resumable, checksummed downloader into ``<paths.downloads>/paddleocr/`` (outside every DVC output) and
  extracted safely. No checksum is published: ``python stages/download.py --allow-missing-checksum`` prints
  the archive's sha256 for ``train.<backbone>.init_sha256``, as for the ``paper`` datasets;
* ``bundled``: the checkpoint shipped in the package.

``init_sha256`` pins the file (the archive for ``paddleocr``). Every name and shape must match the model but
the head's: a checkpoint trained with another dictionary gives the head its columns character by character
(``head_map``: shared characters keep their trained column, new ones start fresh; the log and the record
count both); a dictionary that merges or drops its classes gets a folded head (``init_fold: exact``, the
checkpoint's columns summed per class) or a fitted linear one (``linear``). The checkpoint's dictionary is ``init_dict`` when set, else the ``<stem>.dict.txt`` beside the
file, else 0-9a-z for a 37-class head (PaddleOCR's CRNN releases), else this run's for a head of its size. The record (source, file, sha256s, head) goes into the
trainer state and from there into train.json and the MLflow run. A resumed run ignores ``init``: the
checkpoint it resumes from wins. Same init + same seed: the same weights, bit for bit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from textrec.charset import Charset, CharsetError, dictionary_beside
from textrec.config import Params, PathsConfig, RealDataConfig
from textrec.config.model import BackboneName
from textrec.config.train import RecipeConfig
from textrec.data.download import DownloadError, FetchResult, fetch_source
from textrec.hashing import sha256_file
from textrec.models.pretrained import (
    PADDLEOCR_RELEASES,
    bundled_checkpoint,
    find_release_checkpoint,
    release_source,
)
from textrec.training import distributed
from textrec.training.head_map import HeadMapError, fold_columns, map_head

log = logging.getLogger("textrec.training")


class InitError(ValueError):
    """An init checkpoint that cannot be used (missing, not the file init_sha256 pins, unknown dictionary)."""


DTRB_CLASSES = 37  # 0-9a-z + blank: PaddleOCR's CRNN release checkpoints


def checkpoint_charset(path: Path, num_classes: int, run: Charset, init_dict: str | None) -> tuple[Charset, str]:
    """(the dictionary ``path`` was trained with, where that came from); one-line InitError if unknown."""
    side = dictionary_beside(path)
    source = init_dict or (str(side) if side.is_file() else None)
    if source is not None:
        try:
            cs = Charset.from_file(source, lowercase=False)
        except CharsetError as e:
            raise InitError(f"init: dictionary of {path}: {e}") from None
        where = source
    elif num_classes == DTRB_CLASSES:
        cs, where = Charset.from_file(None, lowercase=False), "builtin:0-9a-z (a 37-class head)"
    elif num_classes == run.num_classes:
        cs, where = run, "this run's (a head of its size, no dictionary beside it)"
    else:
        raise InitError(f"init: cannot tell which dictionary {path} ({num_classes} classes) was trained with: "
                        f"put it beside the file as {side.name} or set train.<backbone>.init_dict")
    if cs.num_classes != num_classes:
        raise InitError(f"init: {where} has {len(cs.characters)} characters, but {path}'s head has "
                        f"{num_classes} classes (characters + blank)")
    return cs, where


@dataclass(frozen=True)
class InitCheckpoint:
    source: str  # "scratch" | "paddleocr" | "bundled" | the configured path
    path: Path | None = None  # the .pdparams read (None: scratch)
    sha256: str | None = None  # of that .pdparams file
    url: str | None = None  # paddleocr: the release archive's URL
    archive_sha256: str | None = None  # paddleocr: the archive's sha256

    def record(self) -> dict[str, Any]:
        return {"source": self.source, "path": None if self.path is None else str(self.path),
                "sha256": self.sha256, "url": self.url, "archive_sha256": self.archive_sha256}


SCRATCH = InitCheckpoint("scratch")


def fetch_release(backbone: BackboneName, sha256: str | None, downloads: str | Path, real: RealDataConfig, *,
                  allow_missing_checksum: bool = False, progress: bool = False) -> FetchResult:
    """Download and extract PaddleOCR's release archive for ``backbone`` into ``<downloads>/paddleocr/``
    (skipped when already there with this checksum); ``real`` gives the mirror, retries and timeouts."""
    try:
        return fetch_source(release_source(backbone, sha256), Path(downloads) / "paddleocr", real,
                            archive_dir=downloads, allow_missing_checksum=allow_missing_checksum,
                            progress=progress)
    except DownloadError as e:
        raise DownloadError(f"{e}\n(init: paddleocr: the archive's sha256 goes in train.{backbone}.init_sha256, "
                            "not data.real.datasets)") from None


def init_releases(params: Params) -> dict[str, BackboneName]:
    """Download name (``paddleocr_<backbone>``) -> backbone, for each recipe that starts from ``paddleocr``."""
    return {release_source(bb, None).name: bb for bb in params.model.backbones
            if params.train.recipe(bb).init == "paddleocr"}


def fetch_init_releases(params: Params, *, allow_missing_checksum: bool = False, progress: bool = True,
                        only: set[str] | None = None) -> list[tuple[BackboneName, FetchResult]]:
    """The release archive of every backbone whose recipe starts from ``paddleocr`` (the download stage)."""
    out = []
    for name, bb in init_releases(params).items():
        if only is None or name in only:
            out.append((bb, fetch_release(bb, params.train.recipe(bb).init_sha256, params.paths.downloads,
                                          params.data.real, allow_missing_checksum=allow_missing_checksum,
                                          progress=progress)))
    return out


def resolve_init(init: str, backbone: BackboneName, *, sha256: str | None = None,
                 downloads: str | Path = PathsConfig.downloads, real: RealDataConfig | None = None,
                 allow_missing_checksum: bool = False, progress: bool = False) -> InitCheckpoint:
    """The checkpoint file ``init`` names for ``backbone`` (downloading PaddleOCR's release if needed)."""
    if init == "scratch":
        return SCRATCH
    if init == "paddleocr":
        fetched = fetch_release(backbone, sha256, downloads, real or RealDataConfig(),
                                allow_missing_checksum=allow_missing_checksum, progress=progress)
        path = find_release_checkpoint(fetched.path)
        return InitCheckpoint("paddleocr", path, sha256_file(path), PADDLEOCR_RELEASES[backbone].url,
                              fetched.sha256)
    path = bundled_checkpoint(backbone) if init == "bundled" else Path(init)
    if not path.is_file():
        raise InitError(f"checkpoint {path} not found")
    digest = sha256_file(path)
    if sha256 is not None and digest != sha256.lower():
        raise InitError(f"{path} has sha256 {digest}, but init_sha256 pins {sha256.lower()}")
    return InitCheckpoint(init, path, digest)


def apply_init(model, init: InitCheckpoint, backbone: BackboneName, charset: Charset,
               init_dict: str | None = None, fit_images: Callable[[], np.ndarray] | None = None,
               fold: str = "exact") -> dict[str, Any]:
    """Load ``init`` into ``model`` (all or nothing); returns ``init.record()`` plus what became of the head.
    A head whose classes are merged or dropped (case folded, punctuation gone) becomes, by ``fold``: "exact",
    a folded head (models/head.py: ``model.head`` is replaced, so build its optimizer afterwards) that sums the
    checkpoint's own columns; "linear", one column per class, fitted to the checkpoint's head on
    ``fit_images`` () -> [N, 3, 32, W] (the run's own, read only when needed; training/head_fit.py) when no
    character is new. A checkpoint with a folded head starts runs of its own dictionary only."""
    if init.path is None:
        return init.record() | {"head": None}
    from textrec.models.checkpoint import (
        FOLD_KEY,
        CheckpointError,
        assign_weights,
        inspect_checkpoint,
        read_params,
    )

    params = read_params(init.path)
    info = inspect_checkpoint(params)
    if info.backbone != backbone:
        raise CheckpointError(f"init: {init.path} is a {info.backbone} checkpoint; this recipe trains {backbone}")
    source, where = checkpoint_charset(init.path, info.num_classes, charset, init_dict)
    head: str | dict[str, Any] = "loaded"
    if FOLD_KEY in params:
        if source.characters != charset.characters:
            raise InitError(f"init: {init.path} has a folded head (its {len(source.characters)} characters sum "
                            f"{params[FOLD_KEY].shape[0]} columns): it starts runs with its own dictionary "
                            f"({where}) only; start from the checkpoint it was folded from")
        model.fold_head(params[FOLD_KEY])
    elif source.characters != charset.characters:  # another dictionary: the head column by column
        state = model.state_dict()
        fresh = state["head.fc.weight"].numpy(), state["head.fc.bias"].numpy()
        try:
            w, b, hm = map_head(params["head.fc.weight"], params["head.fc.bias"], source.characters, charset, *fresh)
        except HeadMapError as e:
            raise InitError(f"init: {init.path} ({where}): {e}") from None
        source_head = params["head.fc.weight"], params["head.fc.bias"]
        head = {"dictionary": where} | hm.record()
        log.info("init: %s was trained with %s (%d characters), this run's dictionary has %d: %s", init.path,
                 where, len(source.characters), len(charset.characters), hm.summary())
        if fold == "exact" and (hm.folded or hm.dropped):
            w, b, grouping = fold_columns(*source_head, source.characters, charset, *fresh)
            model.fold_head(grouping)
            params = params | {FOLD_KEY: grouping}
            head["fold"] = {"columns": int(grouping.shape[0]), "classes": charset.num_classes}
            log.info("init: folded head: the checkpoint's %d columns (+%d new) summed into %d classes, exactly",
                     source_head[1].shape[0], len(hm.fresh), charset.num_classes)
        params = params | {"head.fc.weight": w, "head.fc.bias": b}
    assign_weights(model, params, source=f"init checkpoint {init.path}")
    linear = head != "loaded" and "fold" not in head
    if linear and fit_images is not None and not hm.fresh and (hm.folded or hm.dropped):
        head["fit"] = _fit_head(model, source_head, source.characters, charset, fit_images())
    log.info("init: weights from %s (%s, sha256 %s), head %s", init.path, init.source, init.sha256,
             head if head == "loaded" else "mapped")
    return init.record() | {"head": head}


def _fit_head(model, source_head: tuple[np.ndarray, np.ndarray], source: tuple[str, ...], charset: Charset,
              images: np.ndarray) -> dict[str, Any]:
    """Fit ``model``'s mapped head to the checkpoint's on ``images``; what the fit did, for the log and state."""
    import paddle

    from textrec.training.head_fit import class_groups, fit_head, head_inputs

    fc = model.head.fc
    w, b, fit = fit_head(head_inputs(model, images), *source_head, class_groups(source, charset),
                         fc.weight.numpy(), fc.bias.numpy(), len(images))
    fc.weight.set_value(paddle.to_tensor(w))
    fc.bias.set_value(paddle.to_tensor(b))
    log.info("init: folded head fitted to the checkpoint's on %d of the run's images (%d frames): the most "
             "probable class agrees on %.1f%% of frames (%.1f%% as mapped)", fit.images, fit.frames,
             100 * fit.agreement_after, 100 * fit.agreement_before)
    return fit.record()


def init_model(model, config: Params | RecipeConfig, backbone: BackboneName, charset: Charset,
               ctx: distributed.DistContext, init: InitCheckpoint | None = None,
               fit_images: Callable[[], np.ndarray] | None = None) -> dict[str, Any]:
    """Resolve the recipe's ``init`` (unless ``init`` is given) and load it into a freshly built model.

    Downloads and the mirror follow ``config.paths.downloads`` / ``config.data.real`` for a whole Params
    (defaults for a bare recipe). With several ranks, rank 0 fetches first and the others then find it."""
    recipe = config.train.recipe(backbone) if isinstance(config, Params) else config
    if init is None:
        downloads, real = ((config.paths.downloads, config.data.real) if isinstance(config, Params)
                           else (PathsConfig.downloads, RealDataConfig()))
        wait = recipe.init == "paddleocr"  # the same on every rank
        if wait and not ctx.is_main:
            distributed.barrier(ctx)
        init = resolve_init(recipe.init, backbone, sha256=recipe.init_sha256, downloads=downloads, real=real)
        if wait and ctx.is_main:
            distributed.barrier(ctx)
    return apply_init(model, init, backbone, charset, recipe.init_dict, fit_images, recipe.init_fold)
