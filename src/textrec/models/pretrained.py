"""Where trained weights come from: PaddleOCR's release archives and the checkpoint shipped in the package.

* ``PADDLEOCR_RELEASES``: per backbone, the training archive that PaddleOCR's CRNN doc
  (``doc/doc_en/algorithm_rec_crnn_en.md``) links, and the accuracy it publishes for it: the plain mean over
  IIIT5K, SVT, IC03, IC13, IC15, SVTP and CUTE80 after training on MJSynth + SynthText. The archive holds
  ``<name>/best_accuracy.{pdparams,pdopt,states}``; no checksum is published.
* ``bundled_checkpoint(backbone)``: ``textrec/assets/models/<backbone>.pdparams`` inside the package.

No paddle import here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textrec.config.data import DatasetSource
from textrec.config.model import BackboneName
from textrec.config.pipeline import STANDARD_BENCHMARKS

BUNDLED_DIR = Path(__file__).resolve().parents[1] / "assets" / "models"
RELEASE_CHECKPOINT = "best_accuracy.pdparams"
# the benchmarks PaddleOCR's published means average over (our eval.benchmarks names)
PUBLISHED_BENCHMARKS = STANDARD_BENCHMARKS


@dataclass(frozen=True)
class PaddleOCRRelease:
    url: str
    config: str  # PaddleOCR's config file for this model
    published_accuracy: float  # mean over PUBLISHED_BENCHMARKS, as a fraction


PADDLEOCR_RELEASES: dict[BackboneName, PaddleOCRRelease] = {
    "mobilenet_v3": PaddleOCRRelease(
        "https://paddleocr.bj.bcebos.com/dygraph_v2.0/en/rec_mv3_none_bilstm_ctc_v2.0_train.tar",
        "configs/rec/rec_mv3_none_bilstm_ctc.yml", 0.7795),
    "resnet34_vd": PaddleOCRRelease(
        "https://paddleocr.bj.bcebos.com/dygraph_v2.0/en/rec_r34_vd_none_bilstm_ctc_v2.0_train.tar",
        "configs/rec/rec_r34_vd_none_bilstm_ctc.yml", 0.8104),
}


class PretrainedError(FileNotFoundError):
    """A requested pretrained checkpoint that is not there."""


def release_source(backbone: BackboneName, sha256: str | None) -> DatasetSource:
    """The release archive of ``backbone`` as a download (``sha256``: the archive's, pinned in params)."""
    return DatasetSource(name=f"paddleocr_{backbone}", url=PADDLEOCR_RELEASES[backbone].url, sha256=sha256,
                         kind="checkpoint_archive", split="train")


def find_release_checkpoint(extracted: str | Path) -> Path:
    """The one ``best_accuracy.pdparams`` below an extracted release archive."""
    extracted = Path(extracted)
    found = sorted(extracted.rglob(RELEASE_CHECKPOINT))
    if len(found) == 1:
        return found[0]
    files = sorted(p.relative_to(extracted).as_posix() for p in extracted.rglob("*") if p.is_file())
    what = "no" if not found else f"{len(found)}"
    raise PretrainedError(f"{extracted}: {what} {RELEASE_CHECKPOINT} in the extracted release archive "
                          f"(expected <name>/{RELEASE_CHECKPOINT}); it holds {files[:10]}")


def bundled_checkpoint(backbone: BackboneName, root: str | Path | None = None) -> Path:
    """The checkpoint shipped in the package for ``backbone``; a clear error when this build has none."""
    path = Path(root or BUNDLED_DIR) / f"{backbone}.pdparams"
    if not path.is_file():
        raise PretrainedError(f"no bundled checkpoint for {backbone}: {path} is not in this installation "
                              "(only a trained MobileNetV3 is meant to ship); use init: scratch, paddleocr or "
                              "a path to a .pdparams file")
    return path
