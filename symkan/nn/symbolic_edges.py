"""Per-edge symbolic overrides: edge (o, i) computes c·f(a·x_i + b) + d once fixed.

Evaluated group-by-function over the fixed edges only (one vectorised call per
distinct function), never by a Python loop over edges.
"""
from __future__ import annotations

import torch
from torch import nn


class SymbolicEdges(nn.Module):
    """State of the symbolic edges of one layer.

    Buffers: ``fixed`` (out, in) bool, ``func_index`` (out, in) long into ``names``.
    Parameter: ``affine`` (out, in, 4) holding (a, b, c, d).
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.register_buffer("fixed", torch.zeros(out_features, in_features, dtype=torch.bool))
        self.register_buffer("func_index", torch.zeros(out_features, in_features, dtype=torch.long))
        init = torch.tensor([1.0, 0.0, 1.0, 0.0])
        self.affine = nn.Parameter(init.repeat(out_features, in_features, 1))
        self.names: list[str] = []

    edge_axes = {"fixed": ("out", "in"), "func_index": ("out", "in"), "affine": ("out", "in", None)}

    # --- state ------------------------------------------------------------------------
    def get_extra_state(self):
        return {"names": list(self.names)}

    def set_extra_state(self, state):
        self.names = list(state["names"])

    def set(self, o: int, i: int, name: str, a: float = 1.0, b: float = 0.0, c: float = 1.0, d: float = 0.0):
        """Fix edge (o, i) to c·f(a·x + b) + d with f = library[name]."""
        from ..functions.library import get_function  # imports sympy: deferred so `import symkan.nn` stays light

        entry = get_function(name)
        if entry.name not in self.names:
            self.names.append(entry.name)
        with torch.no_grad():
            self.fixed[o, i] = True
            self.func_index[o, i] = self.names.index(entry.name)
            self.affine[o, i] = torch.tensor([a, b, c, d], dtype=self.affine.dtype)

    def clear(self, o: int, i: int):
        with torch.no_grad():
            self.fixed[o, i] = False

    def function_name(self, o: int, i: int) -> str | None:
        return self.names[int(self.func_index[o, i])] if bool(self.fixed[o, i]) else None

    @property
    def any_fixed(self) -> bool:
        return bool(self.fixed.any())

    # --- evaluation -------------------------------------------------------------------
    def _groups(self):
        """Yield (function, out_idx, in_idx) for each function used by a fixed edge."""
        o_all, i_all = torch.nonzero(self.fixed, as_tuple=True)
        if o_all.numel() == 0:
            return
        from ..functions.library import get_function
        funcs = self.func_index[o_all, i_all]
        for f in torch.unique(funcs).tolist():
            sel = funcs == f
            yield get_function(self.names[f]), o_all[sel], i_all[sel]

    def _values(self, x, fn, o_idx, i_idx):
        a, b, c, d = self.affine[o_idx, i_idx].to(x.dtype).unbind(-1)  # each (k,)
        return c * fn(a * x[:, i_idx] + b) + d  # (batch, k)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (batch, in), mask: (out, in) or None -> Σ_i over fixed edges: (batch, out).
        A masked (pruned) fixed edge contributes nothing, as in ``edge_activations · mask``."""
        out = x.new_zeros(x.shape[0], self.out_features)
        for fn, o_idx, i_idx in self._groups():
            vals = self._values(x, fn, o_idx, i_idx)
            if mask is not None:
                vals = vals * mask[o_idx, i_idx].to(vals.dtype)
            out = out.index_add(1, o_idx, vals)
        return out

    def edge_activations(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, in) -> (batch, out, in), zero on edges that are not fixed."""
        acts = x.new_zeros(x.shape[0], self.out_features, self.in_features)
        for fn, o_idx, i_idx in self._groups():
            acts[:, o_idx, i_idx] = self._values(x, fn, o_idx, i_idx)
        return acts
