"""Training: LMDB batches in a resumable deterministic order, PaddleOCR's CTC recipe, checkpoints, data parallel.

    from textrec.training.trainer import train
    result = train(params, "mobilenet_v3", "data/lmdb/train", "data/lmdb/val", "models/mobilenet_v3")
"""
