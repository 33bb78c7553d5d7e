"""A fully snapped network as raw sympy expressions in the user's variables and units.

Edges c·f(a·x + b) + d, sum nodes with their biases and product nodes of any arity are
written out as they are (no simplification), with the input/output standardisation
built in: ``input_transform=(shift, scale)`` means the network saw (x − shift)/scale,
``output_transform=(shift, scale)`` that y = scale·net + shift.
"""
from __future__ import annotations

import numpy as np
import sympy
import torch

from ..functions.library import get_function


def transform_pair(t, d: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(shift, scale), each (d,) float64, from ``t``: None (identity) or a pair of
    scalars or d-vectors (numpy, tensors, lists). ValueError naming ``name`` otherwise."""
    if t is None:
        return np.zeros(d), np.ones(d)
    try:
        shift, scale = t
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (shift, scale), got {t!r}") from None
    out = []
    for part, label in ((shift, "shift"), (scale, "scale")):
        arr = np.asarray(part.detach().cpu() if isinstance(part, torch.Tensor) else part, dtype=np.float64).reshape(-1)
        if arr.size == 1:
            arr = np.full(d, float(arr[0]))
        if arr.size != d:
            raise ValueError(f"{name} {label} must be a scalar or have {d} entries, got {arr.size}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} {label} must be finite")
        out.append(arr)
    if np.any(out[1] == 0):
        raise ValueError(f"{name} scale must be non-zero")
    return out[0], out[1]


def to_user_units(X, y, input_transform=None, output_transform=None):
    """Map network-unit X (n, d) and y (n, k) back to the user's units (numpy float64)."""
    X = np.asarray(X.detach().cpu() if isinstance(X, torch.Tensor) else X, dtype=np.float64)
    s, c = transform_pair(input_transform, X.shape[1], "input_transform")
    Xu = X * c + s
    if y is None:
        return Xu, None
    y = np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y, dtype=np.float64)
    y2 = y.reshape(len(y), -1)
    s, c = transform_pair(output_transform, y2.shape[1], "output_transform")
    return Xu, y2 * c + s


def _num(v: float) -> sympy.Expr:
    """v as a sympy Integer when it is a (not huge) whole number, else a Float."""
    if v == round(v) and abs(v) < 1e15:
        return sympy.Integer(int(round(v)))
    return sympy.Float(v)


def _edge_expr(fn, a, b, c, d, x):
    """The sympy form of one edge c·fn(a·x + b) + d, without the trivial factors."""
    if fn.mode == "zero" or c == 0:
        return _num(d)
    arg = x if a == 1 else _num(a) * x
    if b != 0:
        arg = arg + _num(b)
    out = fn.sympy_fn(arg)
    if c != 1:
        out = _num(c) * out
    return out + _num(d) if d != 0 else out


def compose(model, variables, input_transform=None, output_transform=None) -> list[sympy.Expr]:
    """The network as one raw sympy expression per output (no simplification)."""
    d = model.n_inputs
    s_in, c_in = transform_pair(input_transform, d, "input_transform")
    s_out, c_out = transform_pair(output_transform, model.n_outputs, "output_transform")
    nodes = []
    for k, v in enumerate(variables):
        e = v - _num(s_in[k]) if s_in[k] != 0 else v
        nodes.append(e / _num(c_in[k]) if c_in[k] != 1 else e)
    for l, (layer, spec) in enumerate(zip(model.layers, model.specs[1:])):
        sym = layer.symbolic
        alive = layer.mask > 0
        pending = alive & ~sym.fixed
        if pending.any():
            o, i = torch.nonzero(pending)[0].tolist()
            raise ValueError(f"edge (l={l}, i={i}, j={o}) is not symbolic; run auto_snap or fix it "
                             f"before asking for a formula")
        aff = sym.affine.detach().to("cpu", torch.float64)
        bias = layer.bias.detach().to("cpu", torch.float64)
        subs = []
        for o in range(layer.out_features):
            terms = [_num(float(bias[o]))]
            for i in range(layer.in_features):
                if not bool(alive[o, i]):
                    continue
                fn = get_function(sym.function_name(o, i))
                a, b, c, dd = (float(v) for v in aff[o, i])
                terms.append(_edge_expr(fn, a, b, c, dd, nodes[i]))
            subs.append(sympy.Add(*terms))
        nodes = subs[: spec.n_sum]
        start = spec.n_sum
        for r in spec.arities:
            nodes.append(sympy.Mul(*subs[start:start + r]))
            start += r
    return [(_num(c_out[k]) * e if c_out[k] != 1 else e) + (_num(s_out[k]) if s_out[k] != 0 else 0)
            for k, e in enumerate(nodes)]


__all__ = ["compose", "to_user_units", "transform_pair"]
