"""CTC loss as PaddleOCR's ``CTCLoss`` computes it (ppocr/losses/rec_ctc_loss.py).

PaddleOCR calls ``nn.CTCLoss(blank=0, reduction="none")`` on the head's training output transposed to
[T, B, C] with every input length = T, then takes the plain batch mean. Paddle's ``reduction="mean"``
would instead divide each sample's loss by its label length first, so it is *not* used here.
Paddle's CTC (warp-ctc) applies softmax to its input itself; feeding ``log_softmax(logits)`` gives the same
numbers (softmax is invariant to the per-frame shift) and makes the argument what the docs call it.
Note: warp-ctc returns 0, not inf, for a label that cannot fit in T frames (e.g. 20 repeated letters need
39 frames), so such a sample silently adds nothing to the loss, in PaddleOCR as here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import paddle


def ctc_loss(logits: paddle.Tensor, labels: paddle.Tensor, lengths: paddle.Tensor) -> paddle.Tensor:
    """logits [B, T, C] (blank = 0), labels [B, L] int (0-padded), lengths [B] int -> scalar mean loss."""
    import paddle
    import paddle.nn.functional as F

    b, t, _ = logits.shape
    log_probs = F.log_softmax(logits.astype("float32"), axis=2).transpose([1, 0, 2])  # [T, B, C]
    input_lengths = paddle.full([b], t, dtype="int64")
    per_sample = F.ctc_loss(log_probs, labels.astype("int32"), input_lengths, lengths.astype("int64"),
                            blank=0, reduction="none")  # [B]
    return per_sample.mean()


def frame_targets(char_pos: np.ndarray, labels: np.ndarray, lengths: np.ndarray, frames: int,
                  ignore_radius: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame targets from character centres.

    char_pos [B, L] (centre x as a fraction of the input width, NaN unknown), labels [B, L], lengths [B]
    -> targets [B, T] int64 (the character at the frame its centre falls into, blank 0 elsewhere),
    char_mask and blank_mask [B, T] float32. A sample with an unknown centre, or with two centres in one
    frame (the frame cannot be both), gets all-zero masks: it is left to CTC alone. Frames within
    ``ignore_radius`` of a centre are in neither mask: they show the same glyph, and whether CTC fires there
    or at the centre is its own choice.
    """
    b = len(lengths)
    targets = np.zeros((b, frames), np.int64)
    char_mask = np.zeros((b, frames), np.float32)
    blank_mask = np.zeros((b, frames), np.float32)
    for i in range(b):
        n = int(lengths[i])
        pos = char_pos[i, :n]
        if n == 0 or not np.isfinite(pos).all():
            continue
        cols = np.clip(np.floor(pos * frames).astype(np.int64), 0, frames - 1)
        if len(np.unique(cols)) < n:
            continue
        targets[i, cols] = labels[i, :n]
        char_mask[i, cols] = 1.0
        blank_mask[i] = 1.0
        for d in range(-ignore_radius, ignore_radius + 1):
            blank_mask[i, np.clip(cols + d, 0, frames - 1)] = 0.0
    return targets, char_mask, blank_mask


def frame_ce(logits: paddle.Tensor, targets: np.ndarray, char_mask: np.ndarray, blank_mask: np.ndarray
             ) -> paddle.Tensor:
    """Cross-entropy of the head's per-frame logits [B, T, C] against ``frame_targets``: the mean over
    character frames plus the mean over blank frames (balanced: blanks outnumber characters ~3:1 and a plain
    mean teaches mostly "blank")."""
    import paddle
    import paddle.nn.functional as F

    logp = F.log_softmax(logits.astype("float32"), axis=2)  # [B, T, C]
    nll = -paddle.take_along_axis(logp, paddle.to_tensor(targets)[:, :, None], axis=2)[:, :, 0]  # [B, T]
    out = paddle.zeros([], "float32")
    for mask in (char_mask, blank_mask):
        count = float(mask.sum())
        if count > 0:
            out = out + (nll * paddle.to_tensor(mask)).sum() / count
    return out


def ctc_frame_loss(logits: paddle.Tensor, labels: paddle.Tensor, lengths: paddle.Tensor,
                   char_pos: paddle.Tensor | np.ndarray | None = None, frame_weight: float = 0.0,
                   ignore_radius: int = 0) -> paddle.Tensor:
    """``ctc_loss`` plus ``frame_weight`` x ``frame_ce`` where the batch carries character centres.
    The extra term only shapes training: the model, its outputs and its checkpoints are CTC's."""
    loss = ctc_loss(logits, labels, lengths)
    if frame_weight <= 0 or char_pos is None:
        return loss
    pos, lab, lens = (np.asarray(t) for t in (char_pos, labels, lengths))
    targets, char_mask, blank_mask = frame_targets(pos, lab, lens, int(logits.shape[1]), ignore_radius)
    if not char_mask.any():  # real data, or no usable sample in this batch
        return loss
    return loss + frame_weight * frame_ce(logits, targets, char_mask, blank_mask)
