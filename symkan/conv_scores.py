"""Scores of a KAN convolution's edges and channels, measured on data, and channel pruning.

An edge of a KAN convolution is (output channel o, input channel c of o's group, kernel
position p). Its *spread* is the mean absolute deviation of φ_{o,c,p} over the values the
input channel c takes in the data (pixels sampled evenly from x, the same sample for
every kernel position): how much the edge's output varies on the data, the quantity the
KAN network scores (:mod:`symkan.scores`) split attributions by.

* :func:`conv_edge_scores` — (out, C_g): the spread summed over the kernel positions (or
  at one position), divided by the largest, so the strongest edge scores 1;
* :func:`conv_channel_scores` — input-channel and output-channel importance: the summed
  spread of the channel's edges, divided by the largest;
* :func:`prune_conv_channels` — a smaller layer without the channels scoring at or below
  a threshold (groups = 1), with the kept indices, so that the neighbouring layers can be
  cut to match (a network-level pruner is not written).

Everything accepts a :class:`~symkan.nn.KANConvNd` or a bottleneck block (scored at its
KAN convolution, on the squeezed input). The layer runs in eval mode without gradients and
is left as it was.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from .nn.bottleneck import BottleneckKANConvNd
from .nn.conv import KANConvNd
from .scores import eval_mode


class ConvPruneResult(NamedTuple):
    """The pruned layer, and the kept input and output channel indices of the original."""
    layer: KANConvNd
    kept_in: list[int]
    kept_out: list[int]


def conv_layer_input(layer, x) -> tuple[KANConvNd, torch.Tensor]:
    """(the KAN convolution, its input) for a KAN conv or a bottleneck block and data x
    (N, C_in, *S); ValueError for anything else."""
    if isinstance(layer, BottleneckKANConvNd):
        conv, pre = layer.conv, layer.squeeze
    elif isinstance(layer, KANConvNd):
        conv, pre = layer, None
    else:
        raise ValueError(f"layer must be a KAN convolution or a bottleneck KAN convolution, got "
                         f"{type(layer).__name__}")
    ref = next(conv.parameters())
    x = torch.as_tensor(x, dtype=ref.dtype, device=ref.device)
    expect = layer.in_channels
    if x.dim() != conv.n_dims + 2 or x.shape[1] != expect:
        raise ValueError(f"x must have shape (N, {expect}, {conv.n_dims} spatial), got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("x contains NaN or infinite values")
    if pre is not None:
        with torch.no_grad(), eval_mode(layer):
            x = pre(x)
    return conv, x


def channel_samples(x: torch.Tensor, max_samples: int = 1024) -> torch.Tensor:
    """x (N, C, *S) -> (n, C): up to ``max_samples`` evenly spaced pixels (all when fewer)."""
    if isinstance(max_samples, bool) or int(max_samples) != max_samples or max_samples < 2:
        raise ValueError(f"max_samples must be an integer >= 2, got {max_samples!r}")
    pix = x.movedim(1, -1).reshape(-1, x.shape[1])
    if pix.shape[0] < 2:
        raise ValueError("x must hold at least 2 pixels")
    if pix.shape[0] <= max_samples:
        return pix
    idx = torch.linspace(0, pix.shape[0] - 1, int(max_samples), device=pix.device).round().long()
    return pix[idx]


@torch.no_grad()
def conv_edge_spread(layer, x, max_samples: int = 1024) -> torch.Tensor:
    """Unnormalised spread of every edge, (out, C_g, P) (see the module docstring)."""
    conv, x = conv_layer_input(layer, x)
    with eval_mode(conv):
        acts = conv.edge_functions(channel_samples(x, max_samples))  # (n, O, C_g, P)
    return (acts - acts.mean(0, keepdim=True)).abs().mean(0)


def kernel_index(conv: KANConvNd, position) -> int:
    """A kernel position (flat int or a tuple with one index per dimension) -> flat index."""
    k = conv.kernel_size
    if isinstance(position, tuple) and len(position) == len(k) and all(
            isinstance(i, int) and 0 <= i < n for i, n in zip(position, k)):
        flat = 0
        for i, n in zip(position, k):
            flat = flat * n + i
        return flat
    if isinstance(position, int) and not isinstance(position, bool) and 0 <= position < conv.kernel_positions:
        return position
    raise ValueError(f"kernel_position must be None, a flat index in [0, {conv.kernel_positions}) or a tuple of "
                     f"{len(k)} indices within kernel_size={k}, got {position!r}")


def _relative(s: torch.Tensor) -> torch.Tensor:
    top = s.max()
    return s / top if top > 0 else torch.zeros_like(s)


def conv_edge_scores(layer, x, *, kernel_position=None, max_samples: int = 1024) -> torch.Tensor:
    """(out, C_g) edge scores in [0, 1]: spread summed over the kernel positions (or at
    ``kernel_position``), divided by the largest. x: (N, C_in, *S) data."""
    spread = conv_edge_spread(layer, x, max_samples)
    conv = layer.conv if isinstance(layer, BottleneckKANConvNd) else layer
    s = spread.sum(-1) if kernel_position is None else spread[..., kernel_index(conv, kernel_position)]
    return _relative(s)


def conv_channel_scores(layer, x, max_samples: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """(input scores (C_in,), output scores (C_out,)) in [0, 1] of the KAN convolution: the
    summed spread of each channel's edges, divided by the largest. An input channel whose
    edges are all flat on the data (it changes no output) scores 0; so does an output
    channel that is constant on the data (only its bias remains)."""
    spread = conv_edge_spread(layer, x, max_samples).sum(-1)  # (O, C_g)
    conv = layer.conv if isinstance(layer, BottleneckKANConvNd) else layer
    G, O = conv.groups, conv.out_channels
    per_group = spread.reshape(G, O // G, -1).sum(1)  # (G, C_g)
    return _relative(per_group.reshape(-1)), _relative(spread.sum(1))


def prune_conv_channels(layer: KANConvNd, x, in_threshold: float = 1e-2, out_threshold: float = 1e-2,
                        max_samples: int = 1024) -> ConvPruneResult:
    """Drop the input and output channels whose :func:`conv_channel_scores` are at or below
    the thresholds (the strongest channel of each side is always kept). Needs groups = 1;
    the dropped inputs' contributions vanish from the outputs, which is what their small
    score measures."""
    if not isinstance(layer, KANConvNd):
        raise ValueError(f"prune_conv_channels prunes a KAN convolution, got {type(layer).__name__}")
    for name, value in (("in_threshold", in_threshold), ("out_threshold", out_threshold)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    if layer.groups != 1:
        raise ValueError(f"prune_conv_channels needs groups=1, the layer has groups={layer.groups}")
    s_in, s_out = conv_channel_scores(layer, x, max_samples)
    keep_in = [i for i in range(len(s_in)) if s_in[i] > in_threshold] or [int(s_in.argmax())]
    keep_out = [o for o in range(len(s_out)) if s_out[o] > out_threshold] or [int(s_out.argmax())]
    return ConvPruneResult(layer.subset(keep_in, keep_out), keep_in, keep_out)


__all__ = ["ConvPruneResult", "conv_edge_scores", "conv_channel_scores", "conv_edge_spread", "prune_conv_channels",
           "conv_layer_input", "channel_samples", "kernel_index"]
