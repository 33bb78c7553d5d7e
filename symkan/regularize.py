"""The KAN paper's sparsification: L1 + entropy of edge magnitudes.

The magnitude of edge (o, i) on a batch is |φ_oi|₁ = mean_b |φ_oi(x_bi) − mean_b φ_oi| / (std_b x_bi + ε):
the spread of the edge's output relative to the spread of its input. Centring matters
because a constant offset of an edge is absorbed by the node bias and carries no
information; normalising by the input spread makes magnitudes comparable across layers.
"""
from __future__ import annotations

import torch

#: added to the input spread so that near-constant inputs do not blow magnitudes up
INPUT_SPREAD_EPS = 0.1
#: keeps the entropy's normalisation and logarithm finite when every magnitude is 0
ENTROPY_EPS = 1e-12


def edge_magnitudes(acts: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """acts: (batch, out, in) edge activations, inputs: (batch, in) -> magnitudes (out, in)."""
    centred = acts - acts.mean(0, keepdim=True)
    spread = inputs.std(0, unbiased=False) + INPUT_SPREAD_EPS  # (in,)
    return centred.abs().mean(0) / spread[None, :]


def layer_entropy(mag: torch.Tensor, eps: float = ENTROPY_EPS) -> torch.Tensor:
    """Entropy S = −Σ p log p of the normalised magnitudes p = |φ| / Σ|φ| of one layer."""
    p = mag / (mag.sum() + eps)
    return -(p * torch.log(p + eps)).sum()


def sparsity_penalty(trace, masks=None, lamb_l1: float = 1.0, lamb_entropy: float = 2.0) -> torch.Tensor:
    """Σ_layers λ_l1 · Σ|φ|₁ + λ_entropy · S(Φ), from a :class:`symkan.nn.Trace`.

    ``masks`` (list of (out, in)) zero out pruned edges; by default ``trace`` activations
    are already masked by the layers.
    """
    total = trace.inputs[0].new_zeros(())
    for l, (acts, x) in enumerate(zip(trace.acts, trace.inputs)):
        mag = edge_magnitudes(acts, x)
        if masks is not None:
            mag = mag * masks[l]
        total = total + lamb_l1 * mag.sum() + lamb_entropy * layer_entropy(mag)
    return total
