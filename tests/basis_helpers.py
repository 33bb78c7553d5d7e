"""Helpers shared by the basis tests (test_bases.py: the contract; test_basis_families.py:
each family against its references)."""
from __future__ import annotations

import torch

from symkan.nn import KANLayer


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def make_layer(name: str, n_in: int = 3, n_out: int = 4, seed: int = 0, dtype=torch.float64, **opts) -> KANLayer:
    return KANLayer(n_in, n_out, name, generator=gen(seed), **opts).to(dtype).eval()


def inputs(n: int, d: int, seed: int = 1, dtype=torch.float64, scale: float = 1.0) -> torch.Tensor:
    """(n, d) uniform on [-scale, scale]."""
    return (torch.rand(n, d, generator=gen(seed), dtype=dtype) * 2 - 1) * scale
