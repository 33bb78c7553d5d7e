"""A small Vision Transformer / Kolmogorov–Arnold Transformer and ViT → KAT conversion.

>>> kat = build_kat(img_size=8, patch_size=2, in_chans=1, num_classes=10, dim=32, depth=2, num_heads=2)
>>> vit = build_vit(img_size=8, patch_size=2, in_chans=1, num_classes=10, dim=32, depth=2, num_heads=2)
>>> kat2 = kat_from_vit(vit)          # same weights, every GELU MLP now a GR-KAN MLP

``kat_from_vit`` works on any module tree (timm's ``VisionTransformer`` included) whose
MLPs have ``fc1`` and ``fc2`` (``nn.Linear``) and a GELU (or SiLU) module between them:
each such MLP becomes a :class:`symkan.nn.kat.GRKANMLP` holding copies of fc1 and fc2
and rationals fitted to that activation, so before any training the converted model
differs from the original only by the rational's fit error (tested; see docs/deep.md).
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from ..nn.kat import DEFAULT_INIT_RANGE, MLP_KINDS, GRKANMLP, KATBlock

#: activation module -> rational init target
_ACTIVATIONS = {nn.GELU: "gelu", nn.SiLU: "silu", nn.Tanh: "tanh"}
POOLS = ("cls", "mean")


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


class VisionTransformer(nn.Module):
    """ViT (``mlp="gelu"``) or KAT (``mlp="grkan"``) image classifier.

    Patch embedding (a ``patch_size`` × ``patch_size`` convolution with that stride), a
    class token (``pool="cls"``) or mean pooling over patches (``pool="mean"``), learned
    positional embeddings, ``depth`` :class:`~symkan.nn.kat.KATBlock` s, a final LayerNorm
    and a linear head. ``block_options`` go to every block (``groups``, ``act_init``,
    ``pre_rational``, ``drop``, ...). ``seed`` seeds a private generator for every initial
    value (the global RNG is untouched).

    Attributes (timm names): ``patch_embed``, ``cls_token`` (1, 1, dim) or None,
    ``pos_embed`` (1, tokens, dim), ``blocks``, ``norm``, ``head``.
    forward: images (batch, in_chans, img_size, img_size) -> logits (batch, num_classes).
    """

    def __init__(self, img_size: int = 8, patch_size: int = 2, in_chans: int = 1, num_classes: int = 10,
                 dim: int = 32, depth: int = 2, num_heads: int = 2, mlp_ratio: float = 4.0, *,
                 mlp: str = "grkan", pool: str = "cls", seed: int = 0, **block_options):
        super().__init__()
        img_size, patch_size = _positive_int("img_size", img_size), _positive_int("patch_size", patch_size)
        if img_size % patch_size:
            raise ValueError(f"patch_size={patch_size} must divide img_size={img_size}")
        for name, value in (("in_chans", in_chans), ("num_classes", num_classes), ("dim", dim), ("depth", depth)):
            _positive_int(name, value)
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
        if mlp not in MLP_KINDS:
            raise ValueError(f"mlp must be one of {MLP_KINDS}, got {mlp!r}")
        gen = torch.Generator().manual_seed(int(seed))
        self.img_size, self.patch_size, self.in_chans, self.pool = img_size, patch_size, in_chans, pool
        n_patches = (img_size // patch_size) ** 2
        self.patch_embed = nn.utils.skip_init(nn.Conv2d, in_chans, dim, patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if pool == "cls" else None
        self.pos_embed = nn.Parameter(torch.zeros(1, n_patches + (pool == "cls"), dim))
        self.blocks = nn.ModuleList(KATBlock(dim, num_heads, mlp_ratio, mlp=mlp, generator=gen, **block_options)
                                    for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=block_options.get("norm_eps", 1e-6))
        self.head = nn.utils.skip_init(nn.Linear, dim, num_classes)
        with torch.no_grad():
            for t in (self.patch_embed.weight, self.pos_embed, self.head.weight):
                nn.init.trunc_normal_(t, std=0.02, a=-0.04, b=0.04, generator=gen)
            if self.cls_token is not None:
                nn.init.trunc_normal_(self.cls_token, std=0.02, a=-0.04, b=0.04, generator=gen)
            self.patch_embed.bias.zero_()
            self.head.bias.zero_()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """images (batch, C, H, W) -> normalised tokens (batch, tokens, dim)."""
        expected = (self.in_chans, self.img_size, self.img_size)
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"expected images (batch, {', '.join(map(str, expected))}), got "
                             f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # (batch, patches, dim)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.forward_features(x)
        return self.head(tokens[:, 0] if self.pool == "cls" else tokens.mean(1))


def build_kat(**options) -> VisionTransformer:
    """A KAT: :class:`VisionTransformer` with GR-KAN MLPs (``options`` as its arguments)."""
    if "mlp" in options:
        raise ValueError("build_kat sets mlp='grkan'; use VisionTransformer(mlp=...) to choose")
    return VisionTransformer(mlp="grkan", **options)


def build_vit(**options) -> VisionTransformer:
    """The matching ViT: the same :class:`VisionTransformer` with GELU MLPs."""
    if "mlp" in options:
        raise ValueError("build_vit sets mlp='gelu'; use VisionTransformer(mlp=...) to choose")
    return VisionTransformer(mlp="gelu", **options)


def _activation_of(mlp: nn.Module) -> tuple[nn.Module, str] | None:
    """The (module, init target) of the single activation among mlp's children, else None."""
    found = [(m, _ACTIVATIONS[type(m)]) for m in mlp.children() if type(m) in _ACTIVATIONS]
    return found[0] if len(found) == 1 else None


def convertible_mlps(model: nn.Module) -> list[str]:
    """Qualified names of the modules :func:`kat_from_vit` replaces: those with ``fc1`` and
    ``fc2`` (``nn.Linear``, fc1.out == fc2.in) and exactly one GELU/SiLU/Tanh child."""
    names = []
    for name, m in model.named_modules():
        fc1, fc2 = getattr(m, "fc1", None), getattr(m, "fc2", None)
        if (isinstance(fc1, nn.Linear) and isinstance(fc2, nn.Linear) and fc1.out_features == fc2.in_features
                and not isinstance(m, GRKANMLP) and _activation_of(m) is not None):
            names.append(name)
    return names


def kat_from_vit(vit: nn.Module, *, groups: int = 8, init_range=DEFAULT_INIT_RANGE, pre_rational: bool = False,
                 backend: str = "auto", inplace: bool = False) -> nn.Module:
    """Convert a ViT into a KAT: every MLP ``fc2(act(fc1(x)))`` with act GELU (SiLU, Tanh)
    becomes a :class:`GRKANMLP` with copies of fc1 and fc2 and each of its ``groups``
    rationals fitted to act on ``init_range``. The rest of the model is copied unchanged
    (``inplace=True`` modifies ``vit`` instead). Dropout probabilities of the MLP are kept.

    Before training, outputs differ from the original's only through the fit error
    |F − act| (at most ~4e-3 for GELU on the default range (−6, 6); larger for
    pre-activations outside the range).

    A tanh-approximate ``nn.GELU`` is fitted as the exact GELU (they differ by < 1e-3).

    Raises ValueError when no such MLP exists, when ``groups`` does not divide an MLP's
    hidden width, or when an MLP has a normalisation layer (other than Identity) that the
    GR-KAN MLP cannot represent.
    """
    if not isinstance(vit, nn.Module):
        raise ValueError(f"vit must be an nn.Module, got {type(vit).__name__}")
    names = convertible_mlps(vit)
    if not names:
        raise ValueError("no MLP to convert: expected modules with fc1, fc2 (nn.Linear) and one "
                         f"{'/'.join(c.__name__ for c in _ACTIVATIONS)} child between them")
    if "" in names:
        raise ValueError("the model itself is an MLP; pass the model that contains it")
    model = vit if inplace else copy.deepcopy(vit)
    for name in names:
        old = model.get_submodule(name)
        norm = getattr(old, "norm", None)
        if norm is not None and not isinstance(norm, nn.Identity):
            raise ValueError(f"{name}: an MLP with a normalisation layer ({type(norm).__name__}) between fc1 "
                             "and fc2 cannot be converted")
        act, target = _activation_of(old)
        hidden = old.fc1.out_features
        if hidden % groups:
            raise ValueError(f"{name}: groups={groups} must divide the hidden width {hidden}")
        drops = [m.p for m in old.children() if isinstance(m, nn.Dropout)]
        new = GRKANMLP(old.fc1.in_features, hidden, old.fc2.out_features, groups=groups, act_init=target,
                       init_range=init_range, pre_rational=pre_rational, drop=max(drops, default=0.0),
                       backend=backend, generator=torch.Generator())
        ref = old.fc1.weight
        new.fc1, new.fc2 = copy.deepcopy(old.fc1), copy.deepcopy(old.fc2)
        for rational in (new.act, new.pre_act):
            if rational is not None:
                rational.to(device=ref.device, dtype=ref.dtype).reset_parameters()  # refit in that dtype
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, new.train(old.training))
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["VisionTransformer", "build_kat", "build_vit", "kat_from_vit", "convertible_mlps",
           "count_parameters", "POOLS"]
