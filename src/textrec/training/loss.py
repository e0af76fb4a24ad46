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
