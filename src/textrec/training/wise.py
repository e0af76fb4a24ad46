"""Weight-space interpolation with the start checkpoint (WiSE-FT: Wortsman et al., "Robust fine-tuning of
zero-shot models", CVPR 2022), for ``train.<backbone>.wise_alpha``.

Fine-tuning a well-trained recognizer on a few thousand crops fixes words and breaks others: from the v2
bundle, 1,800 real IC15 crops fixed 151 held-back words and broke 108 (AMD EPYC, README "After
production"). The weights halfway between the start and the fine-tuned model keep most of the fixes and
few of the breaks, and forget less of what the start read. So a recipe with ``wise_alpha`` validates, and
keeps as ``best``, start + alpha * (trained - start); training itself goes on from the unblended weights
(``latest`` stays unblended, so a resumed run continues the same trajectory).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np


class StartBlend:
    """The start's floating-point state (weights and BatchNorm statistics) and the share ``alpha`` of the
    way from it to the trained weights that ``applied()`` puts in the model."""

    def __init__(self, model, start: Mapping[str, np.ndarray], alpha: float) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"wise_alpha must be in (0, 1], got {alpha}")
        own = model.state_dict()
        missing = sorted(k for k, t in own.items() if _is_float(t) and k not in start)
        if missing:
            raise ValueError(f"the start weights lack {len(missing)} of the model's tensors, e.g. {missing[0]!r}")
        self.model, self.alpha = model, alpha
        self.start = {k: np.asarray(start[k], np.float32) for k, t in own.items() if _is_float(t)}

    @classmethod
    def of_model(cls, model, alpha: float) -> StartBlend:
        """The model's current weights as the start (call right after init)."""
        return cls(model, {k: t.numpy() for k, t in model.state_dict().items() if _is_float(t)}, alpha)

    @classmethod
    def from_file(cls, model, path: str | Path, alpha: float) -> StartBlend:
        """The start saved at the run's beginning (``<models>/<backbone>/start.pdparams``): a resumed run."""
        from textrec.models.checkpoint import read_params

        if not Path(path).is_file():
            raise FileNotFoundError(f"{path} is missing: a run with wise_alpha keeps its start weights there; "
                                    f"without them it cannot resume (delete the model folder to start over)")
        return cls(model, read_params(path), alpha)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Inside: the model holds start + alpha * (current - start); after: the current weights again."""
        if self.alpha == 1.0:
            yield
            return
        tensors = {k: t for k, t in self.model.state_dict().items() if k in self.start}
        current = {k: t.numpy().copy() for k, t in tensors.items()}
        try:
            for k, t in tensors.items():
                t.set_value(self.start[k] + self.alpha * (current[k] - self.start[k]))
            yield
        finally:
            for k, t in tensors.items():
                t.set_value(current[k])


def _is_float(tensor) -> bool:
    import paddle

    return bool(paddle.is_floating_point(tensor))
