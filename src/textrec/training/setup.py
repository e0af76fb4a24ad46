"""Building what a training run needs from the typed config: recipe, charset, model, optimizer, scaler."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from textrec.charset import Charset
from textrec.config import Params
from textrec.config.model import BackboneName
from textrec.config.train import RecipeConfig
from textrec.preprocess import IMAGE_SHAPE
from textrec.training.distributed import DistContext


@dataclass(frozen=True)
class RunSpec:
    recipe: RecipeConfig
    charset: Charset
    image_shape: tuple[int, int, int]


def resolve(config: Params | RecipeConfig, backbone: BackboneName, charset: Charset | None) -> RunSpec:
    """A whole ``Params`` (recipe of ``backbone``, its charset and image shape) or a bare recipe."""
    if isinstance(config, Params):
        return RunSpec(config.train.recipe(backbone), charset or config.charset.build(), config.model.image_shape)
    if isinstance(config, RecipeConfig):
        return RunSpec(config, charset or Charset.from_file(), IMAGE_SHAPE)
    raise TypeError(f"expected Params or RecipeConfig, got {type(config).__name__}")


def seed_everything(seed: int) -> None:
    """Same initial weights on every rank and in every run with this seed."""
    import paddle

    random.seed(seed)
    np.random.seed(seed)
    paddle.seed(seed)


def build_model_for(recipe: RecipeConfig, backbone: BackboneName, num_classes: int, ctx: DistContext):
    import paddle

    from textrec.models.crnn import build_model

    model = build_model(backbone, num_classes)
    if recipe.batch_norm == "sync":
        if not (ctx.distributed and ctx.device.startswith("gpu")):
            raise ValueError("batch_norm 'sync' needs several GPU ranks (paddle's SyncBatchNorm is GPU-only); "
                             "use 'batch' or 'frozen'")
        model = paddle.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model


def build_optimizer(recipe: RecipeConfig, model):
    """Adam as PaddleOCR's CRNN configs use it; the learning rate is set before every step."""
    import paddle

    o = recipe.optimizer
    return paddle.optimizer.Adam(
        learning_rate=recipe.lr, beta1=o.beta1, beta2=o.beta2, parameters=model.parameters(),
        weight_decay=paddle.regularizer.L2Decay(o.weight_decay) if o.weight_decay > 0 else None,
        grad_clip=paddle.nn.ClipGradByGlobalNorm(o.grad_clip_norm) if o.grad_clip_norm else None)


def build_scaler(recipe: RecipeConfig, ctx: DistContext):
    """AMP loss scaler on GPU when ``amp`` is on, else None (AMP is ignored on CPU)."""
    if not (recipe.amp and ctx.device.startswith("gpu")):
        return None
    import paddle

    return paddle.amp.GradScaler()
