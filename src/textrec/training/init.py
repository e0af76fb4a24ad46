"""The weights a training run starts from: ``train.<backbone>.init``.

* ``scratch``: the seeded fresh initialisation, nothing loaded (the default);
* a path to a ``.pdparams`` file, ours or PaddleOCR's (same names and shapes);
* ``paddleocr``: the backbone's release archive (``textrec.models.pretrained``), fetched once with the
  resumable, checksummed downloader into ``<paths.downloads>/paddleocr/`` (outside every DVC output) and
  extracted safely. No checksum is published: ``python stages/download.py --allow-missing-checksum`` prints
  the archive's sha256 for ``train.<backbone>.init_sha256``, as for the ``paper`` datasets;
* ``bundled``: the checkpoint shipped in the package.

``init_sha256`` pins the file (the archive for ``paddleocr``). Every name and shape must match the model;
a checkpoint whose head has another class count (another dictionary) loads all but the head, which keeps
its seeded initialisation, and the log says so. The record (source, file, sha256s, head) goes into the
trainer state and from there into train.json and the MLflow run. A resumed run ignores ``init``: the
checkpoint it resumes from wins. Same init + same seed: the same weights, bit for bit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textrec.config import Params, PathsConfig, RealDataConfig
from textrec.config.model import BackboneName
from textrec.config.train import RecipeConfig
from textrec.data.download import DownloadError, FetchResult, fetch_source, sha256_file
from textrec.models.pretrained import (
    PADDLEOCR_RELEASES,
    bundled_checkpoint,
    find_release_checkpoint,
    release_source,
)
from textrec.training import distributed

log = logging.getLogger("textrec.training")


class InitError(ValueError):
    """An init checkpoint that cannot be used (missing, or not the file init_sha256 pins)."""


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


def apply_init(model, init: InitCheckpoint, backbone: BackboneName, num_classes: int) -> dict[str, Any]:
    """Load ``init`` into ``model`` (all or nothing); returns ``init.record()`` plus what became of the head."""
    if init.path is None:
        return init.record() | {"head": None}
    from textrec.models.checkpoint import CheckpointError, assign_weights, inspect_checkpoint, read_params

    params = read_params(init.path)
    info = inspect_checkpoint(params)
    if info.backbone != backbone:
        raise CheckpointError(f"init: {init.path} is a {info.backbone} checkpoint; this recipe trains {backbone}")
    head = "loaded"
    if info.num_classes != num_classes:  # another dictionary: everything but the classifier still fits
        state = model.state_dict()
        params = {k: v for k, v in params.items() if not k.startswith("head.")}
        params |= {k: t.numpy() for k, t in state.items() if k.startswith("head.")}
        head = f"re-initialised ({info.num_classes} -> {num_classes} classes)"
        log.info("init: %s has %d classes, this dictionary %d: the head is re-initialised, backbone and neck "
                 "are loaded", init.path, info.num_classes, num_classes)
    assign_weights(model, params, source=f"init checkpoint {init.path}")
    log.info("init: weights from %s (%s, sha256 %s), head %s", init.path, init.source, init.sha256, head)
    return init.record() | {"head": head}


def init_model(model, config: Params | RecipeConfig, backbone: BackboneName, num_classes: int,
               ctx: distributed.DistContext, init: InitCheckpoint | None = None) -> dict[str, Any]:
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
    return apply_init(model, init, backbone, num_classes)
