"""Validation accuracy during training: exact match of the greedy CTC decode with the normalised label."""

from __future__ import annotations

from collections.abc import Sequence

from textrec.ctc import ctc_greedy_decode
from textrec.data.dataset import LmdbTextDataset, collate_batch


def count_correct(model, dataset: LmdbTextDataset, indices: Sequence[int], batch_size: int = 256) -> int:
    """Exact matches of ``model`` (eval mode, no gradients) on the records ``indices`` of ``dataset``.

    The caller restores the training mode afterwards (``set_train_mode``)."""
    import paddle

    model.eval()
    correct = 0
    with paddle.no_grad():
        for start in range(0, len(indices), batch_size):
            images, labels, lengths, _ = collate_batch([dataset[i] for i in indices[start:start + batch_size]])
            probs = model(paddle.to_tensor(images)).numpy()  # [B, T, C] softmax
            preds = ctc_greedy_decode(probs, dataset.charset)
            truth = [dataset.charset.decode_ids(row[:n]) for row, n in zip(labels, lengths, strict=True)]
            correct += sum(p.text == t for p, t in zip(preds, truth, strict=True))
    return correct


def set_train_mode(model, batch_norm: str) -> None:
    """``model.train()``; with ``batch_norm == "frozen"`` the BatchNorm layers stay in eval mode (they
    normalise with their running statistics and do not update them; their scale/shift still learn)."""
    import paddle

    bn_types = (paddle.nn.BatchNorm, paddle.nn.BatchNorm1D, paddle.nn.BatchNorm2D, paddle.nn.BatchNorm3D,
                paddle.nn.SyncBatchNorm)
    model.train()
    if batch_norm == "frozen":
        for layer in model.sublayers():
            if isinstance(layer, bn_types):
                layer.eval()
