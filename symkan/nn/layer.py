"""KANLayer: ``in_features`` inputs, ``out_features`` sum nodes, one learnable function per edge.

    y_o = Σ_i m_oi · [φ_oi(x_i) + w_b,oi · silu(x_i)] + Σ_i s_oi · ψ_oi(x_i) + bias_o

with φ from the basis, the optional residual branch of the KAN paper, the edge mask
m (pruned edges, symbolic edges are excluded from it) and ψ the symbolic overrides
c·f(a·x+b)+d on fixed edges s.
"""
from __future__ import annotations

import inspect

import torch
from torch import nn
import torch.nn.functional as F

from ..bases import Basis, get_basis
from ..tensor_memo import module_memo
from .symbolic_edges import SymbolicEdges


def _check_basis_options(cls, options: dict) -> None:
    """Unknown keyword options -> ValueError naming them and the valid ones (not a TypeError)."""
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return  # the basis takes arbitrary options and checks them itself
    unknown = sorted(set(options) - set(params))
    if unknown:
        valid = sorted(n for n, p in params.items()
                       if p.kind is p.KEYWORD_ONLY and not n.startswith("_") and n != "generator")
        raise ValueError(f"unknown option(s) {unknown} for basis {cls.name!r}; valid options: {valid}")


class KANLayer(nn.Module):
    """Parameters: ``basis`` (edge functions), ``base_weight`` (out, in) when
    ``residual``, ``bias`` (out,). Buffers: ``mask`` (out, in) float, 1 = edge alive.
    ``symbolic`` holds the fixed symbolic edges. ``generator`` is the private stream the
    basis and then ``base_weight`` draw their initial values from (default: one seeded 0).

    Edge indices, the one convention: the edge from input node ``i`` of layer ``l`` to its
    output (sub-)node ``j`` is named ``(l, i, j)`` — (layer, in, out), the order data flows,
    as in pykan — wherever a network-level function takes or returns an edge
    (``fix``/``unfix``/``suggest``, ``SnapResult.choice``, ``EdgeChoice``, plot gids
    ``edge:l:i:j``). Every per-edge tensor of a layer (``mask``, ``base_weight``, basis
    coefficients, edge scores, ``edge_activations(x)[:, j, i]``) is indexed ``[out, in]``,
    i.e. ``[j, i]``, like a ``torch.nn.Linear`` weight; so are the layer-level accessors
    ``symbolic.set(j, i, ...)``, ``symbolic.function_name(j, i)`` and ``symbolic.clear(j, i)``.
    """

    def __init__(self, in_features: int, out_features: int, basis: str | Basis = "bspline", *,
                 residual: bool = True, generator: torch.Generator | None = None, **basis_options):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        if generator is None:
            # one private stream for the basis and base_weight, as with an explicit generator
            # seeded 0 (a fresh seed-0 generator per tensor would give both the same draws)
            generator = torch.Generator().manual_seed(0)
        if isinstance(basis, Basis):
            if (basis.in_features, basis.out_features) != (self.in_features, self.out_features):
                raise ValueError("basis shape does not match the layer")
            self.basis = basis
        else:
            if residual:  # residual and basis each carry half the output variance
                basis_options.setdefault("init_scale", 0.5 ** 0.5)
            cls = get_basis(basis)
            _check_basis_options(cls, basis_options)
            self.basis = cls(in_features, out_features, generator=generator, **basis_options)
        self.residual = bool(residual)
        if self.residual:
            # Var(Σ_i w·silu(x_i)) ≈ Var(x)/2 for inputs spread over [-1, 1]
            t = torch.linspace(-1.0, 1.0, 257)
            gain = (t.pow(2).mean() / F.silu(t).pow(2).mean()).sqrt().item()
            std = gain * (0.5 / in_features) ** 0.5
            self.base_weight = nn.Parameter(Basis._randn((out_features, in_features), generator, std))
        else:
            self.register_parameter("base_weight", None)
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.register_buffer("mask", torch.ones(out_features, in_features))
        self.symbolic = SymbolicEdges(in_features, out_features)

    def numeric_mask(self) -> torch.Tensor:
        """(out, in): 1 on alive edges that are not symbolic."""
        return self.mask * (~self.symbolic.fixed).to(self.mask.dtype)

    def _edge_state(self):
        """(numeric_mask(), or None when every edge is alive and numeric; any edge fixed;
        the groups of the alive edges when they are all symbolic, else None), recomputed
        only when ``mask`` or the symbolic edges change: the forward then skips the mask
        ops and products (exact: they would multiply by ones) or, on a fully symbolic
        layer, the numeric branch (exactly zero there)."""
        def compute():
            fixed, mask = self.symbolic.fixed, self.mask
            m = self.numeric_mask()
            alive = mask > 0
            binary = bool(((mask == 0) | (mask == 1)).all())
            symbolic_only = binary and bool(alive.any()) and bool((fixed | ~alive).all())
            groups = self.symbolic.groups(alive) if symbolic_only else None
            return (None if bool((m == 1).all()) else m), bool(fixed.any()), groups

        sources = (self.mask, self.symbolic.fixed, self.symbolic.func_index)
        return module_memo(self, "_edge_memo").get(sources, compute)

    @property
    def fully_symbolic(self) -> bool:
        """Every alive edge is symbolic (and there is one), with a 0/1 mask: the forward
        evaluates the symbolic edges only."""
        return self._edge_state()[2] is not None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, in) -> (batch, out).

        On a fully symbolic layer: bias + Σ of the alive symbolic edges, one function
        group after the other (the order the joint refit has always summed in).
        """
        m, any_fixed, groups = self._edge_state()
        if groups is not None:
            start = self.bias.to(torch.promote_types(x.dtype, self.bias.dtype)).expand(x.shape[0], -1)
            return self.symbolic.accumulate(start, x, groups)
        y = self.basis(x, m)
        if self.residual:
            y = y + F.linear(F.silu(x), self.base_weight if m is None else self.base_weight * m)
        if any_fixed:
            y = y + self.symbolic(x, self.mask)
        return y + self.bias

    def edge_activations(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, in) -> exact per-edge values (batch, out, in); their sum over ``in``
        plus ``bias`` equals ``forward(x)``."""
        m, any_fixed, _ = self._edge_state()
        acts = self.numeric_edge_activations(x)
        if m is not None:
            acts = acts * m
        if any_fixed:
            acts = acts + self.symbolic.edge_activations(x) * self.mask
        return acts

    def numeric_edge_activations(self, x: torch.Tensor) -> torch.Tensor:
        """The numeric edge functions φ + w_b·silu, ignoring masks and symbolic overrides."""
        acts = self.basis.edge_activations(x)
        if self.residual:
            acts = acts + self.base_weight * F.silu(x)[:, None, :]
        return acts

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, residual={self.residual}"

    def subset(self, out_idx, in_idx) -> "KANLayer":
        """A new layer restricted to outputs ``out_idx`` and inputs ``in_idx`` (same functions)."""
        out_idx = torch.as_tensor(list(out_idx), dtype=torch.long)
        in_idx = torch.as_tensor(list(in_idx), dtype=torch.long)
        basis = self.basis.subset(out_idx.tolist(), in_idx.tolist())
        # a private generator: base_weight is overwritten below; never draw from the global RNG
        new = KANLayer(len(in_idx), len(out_idx), basis, residual=self.residual, generator=torch.Generator())
        new = new.to(device=self.bias.device, dtype=self.bias.dtype)
        with torch.no_grad():
            dev = self.bias.device
            o, i = out_idx.to(dev), in_idx.to(dev)
            if self.residual:
                new.base_weight.copy_(self.base_weight[o][:, i])
            new.bias.copy_(self.bias[o])
            new.mask.copy_(self.mask[o][:, i])
            sym = self.symbolic
            new.symbolic.names = list(sym.names)
            new.symbolic.fixed.copy_(sym.fixed[o][:, i])
            new.symbolic.func_index.copy_(sym.func_index[o][:, i])
            new.symbolic.affine.copy_(sym.affine[o][:, i])
        return new
