"""Per-edge symbolic overrides: edge (o, i) computes c·f(a·x_i + b) + d once fixed.

Evaluated group-by-function over the fixed edges only (one vectorised call per
distinct function), never by a Python loop over edges. The functions come from
:mod:`symkan.functions.library`, looked up by name at every evaluation.
"""
from __future__ import annotations

import torch
from torch import nn

#: one group of edges sharing a function: (library name, out_idx (k,), in_idx (k,)) long
EdgeGroup = tuple[str, torch.Tensor, torch.Tensor]


def _library():
    """The function library module (imports sympy: deferred so `import symkan.nn` stays light)."""
    from ..functions import library

    return library


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
        entry = _library().get_function(name)
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
    def groups(self, alive: torch.Tensor | None = None) -> list[EdgeGroup]:
        """The fixed edges grouped by function: one (name, out_idx, in_idx) per function
        used, in the order of ``func_index``. ``alive`` (out, in) bool keeps only the
        fixed edges where it is True (e.g. ``layer.mask > 0``)."""
        chosen = self.fixed if alive is None else self.fixed & alive
        o_all, i_all = torch.nonzero(chosen, as_tuple=True)
        if o_all.numel() == 0:
            return []
        funcs = self.func_index[o_all, i_all]
        out = []
        for f in torch.unique(funcs).tolist():
            sel = funcs == f
            out.append((self.names[f], o_all[sel], i_all[sel]))
        return out

    def _values(self, x, fn, o_idx, i_idx):
        a, b, c, d = self.affine[o_idx, i_idx].to(x.dtype).unbind(-1)  # each (k,)
        return c * fn(a * x[:, i_idx] + b) + d  # (batch, k)

    def accumulate(self, out: torch.Tensor, x: torch.Tensor, groups: list[EdgeGroup],
                   mask: torch.Tensor | None = None) -> torch.Tensor:
        """``out`` (batch, out) plus, for every edge (o, i) of ``groups``, its value
        c·f(a·x_i + b) + d (times ``mask[o, i]`` when a mask is given) added to column o,
        one function group after the other, in ``out``'s dtype. x: (batch, in). Out of
        place (autograd-safe)."""
        get_function = _library().get_function
        for name, o_idx, i_idx in groups:
            vals = self._values(x, get_function(name), o_idx, i_idx)
            if mask is not None:
                vals = vals * mask[o_idx, i_idx].to(vals.dtype)
            out = out.index_add(1, o_idx, vals.to(out.dtype))
        return out

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (batch, in), mask: (out, in) or None -> Σ_i over fixed edges: (batch, out).
        A masked (pruned) fixed edge contributes nothing, as in ``edge_activations · mask``."""
        return self.accumulate(x.new_zeros(x.shape[0], self.out_features), x, self.groups(), mask)

    def edge_activations(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, in) -> (batch, out, in), zero on edges that are not fixed."""
        acts = x.new_zeros(x.shape[0], self.out_features, self.in_features)
        get_function = _library().get_function
        for name, o_idx, i_idx in self.groups():
            acts[:, o_idx, i_idx] = self._values(x, get_function(name), o_idx, i_idx)
        return acts
