"""Small reference networks built from KAN convolutions (2-D), each with its plain-CNN
counterpart (``basis=None``: the same layout with ``nn.Conv2d`` → norm → ReLU units):

* :class:`KANVGG` — stages of 3×3 KAN convolutions and max-pooling, global average pool, linear head;
* :class:`KANResNet` — a stem, residual stages of (bottleneck) KAN convolutions, linear head;
* :class:`KANUNet` — an encoder–decoder with skip connections for dense (per-pixel) outputs.

Every initial value comes from one generator seeded ``seed`` (never the global RNG).
"""
from .blocks import Residual, conv_unit
from .resnet import KANResNet
from .unet import KANUNet
from .vgg import KANVGG

__all__ = ["KANVGG", "KANResNet", "KANUNet", "Residual", "conv_unit"]
