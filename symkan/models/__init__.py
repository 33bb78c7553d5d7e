"""Reference deep models built from symkan's KAN layers.

* :class:`KANVGG` — stages of 3×3 KAN convolutions and max-pooling, global average pool, linear head;
* :class:`KANResNet` — a stem, residual stages of (bottleneck) KAN convolutions, linear head;
* :class:`KANUNet` — an encoder–decoder with skip connections for dense (per-pixel) outputs;
* :class:`VisionTransformer` / :func:`build_kat` / :func:`build_vit` — a tiny KAT or ViT,
  and :func:`kat_from_vit`, which turns a ViT's GELU MLPs into group-rational KAN MLPs.

The conv nets take ``basis=None`` for their plain-CNN counterpart. Every initial value comes
from one generator seeded ``seed`` (never the global RNG).
"""
from .blocks import Residual, conv_unit
from .kat import VisionTransformer, build_kat, build_vit, kat_from_vit
from .resnet import KANResNet
from .unet import KANUNet
from .vgg import KANVGG

__all__ = ["KANVGG", "KANResNet", "KANUNet", "Residual", "conv_unit", "VisionTransformer", "build_kat", "build_vit",
           "kat_from_vit"]
