"""Networks for the snapping tests (test_symbolic_snap.py, test_snap_selection.py)."""
from __future__ import annotations

import torch

from symkan.nn import KAN
from symkan.symbolic import fix


def _x(n, d, lo=-1.0, hi=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return lo + (hi - lo) * torch.rand(n, d, generator=g)


def _symbolic_net(width, edges, biases=None, **kw):
    """A KAN with the given edges fixed: edges = {(l, i, j): (name, (a, b, c, d))};
    every other edge is masked."""
    m = KAN(width, seed=0, **kw)
    for layer in m.layers:
        layer.mask.zero_()
        with torch.no_grad():
            layer.bias.zero_()
    for (l, i, j), (name, params) in edges.items():
        m.layers[l].mask[j, i] = 1.0
        fix(m, l, i, j, name, params=params)
    for (l, j), v in (biases or {}).items():
        with torch.no_grad():
            m.layers[l].bias[j] = v
    return m
