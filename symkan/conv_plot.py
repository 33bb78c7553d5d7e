"""The learned univariate functions of a KAN convolution, as a grid of curves (matplotlib).

Cell (row o, column c) shows the edge functions from input channel c to output channel o:
by default their sum over the kernel positions, t ↦ Σ_p φ_{o,c,p}(t) (what the layer adds
to output o for a patch in which channel c is constant at t), or φ_{o,c,p} at one
``kernel_position``. Each curve includes the residual branch w_b·silu, and spans the
range (min..max) of channel c in the data (written under each column), as the network
diagram's insets do
(:func:`symkan.plot.plot_network`). Its opacity is tanh(β·score), with the edge score of
:func:`symkan.conv_scores.conv_edge_scores` (the strongest edge scores 1). Cells of input
channels outside the output's group (groups > 1) are left empty.

Every curve is a ``Line2D`` with ``gid = "curve:{o}:{c}"``, so the drawn opacities can be
read back. Nothing is shown or written to disk.
"""
from __future__ import annotations

import math
import textwrap
from typing import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from .conv_scores import channel_samples, conv_channel_scores, conv_edge_scores, conv_layer_input, kernel_index
from .scores import eval_mode


def _pick(name: str, chosen, scores: torch.Tensor, limit: int) -> list[int]:
    n = len(scores)
    if chosen is None:
        if n <= limit:
            return list(range(n))
        return sorted(torch.argsort(scores, descending=True, stable=True)[:limit].tolist())
    idx = [int(i) for i in chosen]
    if not idx or len(set(idx)) != len(idx) or min(idx) < 0 or max(idx) >= n:
        raise ValueError(f"{name} must be distinct channel indices in [0, {n}), at least one; got {chosen!r}")
    return idx


def plot_conv_functions(layer, x, beta: float = 3.0, *, kernel_position=None,
                        in_channels: Sequence[int] | None = None, out_channels: Sequence[int] | None = None,
                        max_channels: int = 12, n_grid: int = 48, max_samples: int = 1024,
                        figsize: tuple[float, float] | None = None, title: str | None = None) -> Figure:
    """Draw the edge functions of a KAN convolution; returns the matplotlib Figure.

    Args:
        layer: a :class:`~symkan.nn.KANConvNd` or a bottleneck block (its KAN convolution,
            fed the squeezed input, is drawn).
        x: (N, C_in, *S) data: the scores and the ranges of the curves.
        beta: opacity tanh(beta · score).
        kernel_position: None (sum over the kernel positions), a flat index, or a tuple.
        in_channels / out_channels: the channels to draw (indices of the KAN convolution);
            default all, or the ``max_channels`` most important by
            :func:`~symkan.conv_scores.conv_channel_scores` when there are more.
        n_grid: points per curve. max_samples: pixels sampled for the scores and ranges.
    """
    if not (isinstance(beta, (int, float)) and not isinstance(beta, bool) and math.isfinite(beta) and beta >= 0):
        raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
    for name, value, low in (("n_grid", n_grid, 2), ("max_channels", max_channels, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    conv, x_conv = conv_layer_input(layer, x)
    p_idx = None if kernel_position is None else kernel_index(conv, kernel_position)
    scores = conv_edge_scores(layer, x, kernel_position=kernel_position, max_samples=max_samples).cpu()
    s_in, s_out = conv_channel_scores(layer, x, max_samples)
    cols = _pick("in_channels", in_channels, s_in.cpu(), max_channels)
    rows = _pick("out_channels", out_channels, s_out.cpu(), max_channels)

    with torch.no_grad(), eval_mode(conv):
        sample = channel_samples(x_conv, max_samples)
        lo, hi = sample.min(0).values, sample.max(0).values
        t = torch.linspace(0.0, 1.0, n_grid, dtype=sample.dtype, device=sample.device)[:, None]
        grid = lo[None] + (hi - lo)[None] * t  # (n_grid, C)
        acts = conv.edge_functions(grid)  # (n_grid, O, C_g, P)
        curves = (acts.sum(-1) if p_idx is None else acts[..., p_idx]).cpu().numpy()
    grid = grid.cpu().numpy()

    cg, og = conv.in_channels // conv.groups, conv.out_channels // conv.groups
    if figsize is None:
        figsize = (max(5.0, 1.0 + 1.25 * len(cols)), 0.8 + 1.0 * len(rows))
    fig = Figure(figsize=figsize, layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(rows), len(cols), squeeze=False))
    for r, o in enumerate(rows):
        for k, c in enumerate(cols):
            ax = axes[r, k]
            ax.set_xticks([])
            ax.set_yticks([])
            if r == len(rows) - 1:
                ax.set_xlabel(f"in {c}\n[{grid[0, c]:.2g}, {grid[-1, c]:.2g}]", fontsize=7)
            if k == 0:
                ax.set_ylabel(f"out {o}", fontsize=8)
            if c // cg != o // og:  # not an edge: another group
                for spine in ax.spines.values():
                    spine.set_visible(False)
                continue
            score = float(scores[o, c - (o // og) * cg])
            alpha = float(np.tanh(beta * score))
            ax.plot(grid[:, c], curves[:, o, c - (o // og) * cg], color="black", linewidth=1.0, alpha=alpha,
                    gid=f"curve:{o}:{c}")
            for spine in ax.spines.values():
                spine.set_alpha(max(alpha, 0.15))
    what = "sum over kernel positions" if p_idx is None else f"kernel position {kernel_position}"
    fig.suptitle(textwrap.fill(title or f"{type(conv).__name__} edge functions ({conv.basis_name}; {what}); "
                                        f"opacity tanh({beta:g}·score)", width=int(12 * figsize[0])), fontsize=9)
    return fig


__all__ = ["plot_conv_functions"]
