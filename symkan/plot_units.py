"""What the insets of a network diagram show: each edge's curve in display units, and
the snapped edges' forms with their constants in the same units.

An edge φ of layer l maps a value x of node layer l to a contribution to sub-node o of
node layer l+1. The diagram draws it as Y = r_o·φ(x) + e_o against X, where
x = p_i·X + q_i (:class:`EdgeMaps`):

* **first layer, x axis**: with the inputs' standardisation ``input_affine`` (shift,
  scale; the network takes (X − shift) / scale), X is the user's input (or, for a
  log-space network, log of it: whatever the input's label says);
* **last layer, y axis**: with the output's ``output_affine`` (shift, scale), an edge
  into a sum output node shows its contribution scale·φ to the user's y; a lone edge
  into its output also gets the constant scale·bias + shift, so its curve is y itself;
  edges into a product output node stay in network units;
* **lone edges**: an edge that is the only alive one into its (sub-)node also carries
  that node's bias, so its curve is the node's value (and its y range is the x range
  of the edges that leave the node); with several edges the bias is not drawn;
* **hidden nodes**: their values have no user units, and their sign is arbitrary (a
  network can carry −(sin(πx) + y²) into exp(−h)). Each hidden node is drawn with the
  orientation in which its outgoing edges increase on the whole: a flipped node shows
  its incoming curves negated and its outgoing curves mirrored, which leaves every
  composed function unchanged. For a product node the flip goes to its first factor.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy

from .functions.library import get_function
from .scores import subnode_owner

SIG_DIGITS = 3


@dataclass
class EdgeMaps:
    """Display maps of one layer: network input x = p·X + q per input node (in_l,), and
    drawn value Y = r·φ + e per sub-node (out_l,)."""

    p: np.ndarray
    q: np.ndarray
    r: np.ndarray
    e: np.ndarray

    def curve(self, grid: np.ndarray, values: np.ndarray, o: int, i: int):
        """Network grid (n,) of input i and φ values (n,) -> displayed (X (n,), Y (n,))."""
        return (grid - self.q[i]) / self.p[i], self.r[o] * values + self.e[o]

    def constants(self, a: float, b: float, c: float, d: float, o: int, i: int):
        """(a, b, c, d) of c·f(a·x + b) + d in network units -> the same in display units."""
        p, q, r, e = self.p[i], self.q[i], self.r[o], self.e[o]
        return a * p, a * q + b, r * c, r * d + e


def _subnode_signs(spec, node_signs: np.ndarray) -> np.ndarray:
    """Sign of each sub-node of a node layer: its node's sign for a sum node; for a
    product node the first factor carries the node's sign, the others stay +1."""
    owner = subnode_owner(spec).numpy()
    signs = np.ones(len(owner))
    first = {}
    for o, j in enumerate(owner):
        if j < spec.n_sum or j not in first:
            signs[o] = node_signs[j]
            first[j] = o
    return signs


def _affine(pair, n: int, what: str):
    """(shift, scale) -> arrays (n,) each; None -> (0, 1)."""
    if pair is None:
        return np.zeros(n), np.ones(n)
    try:
        shift, scale = (np.broadcast_to(np.asarray(v, dtype=np.float64).reshape(-1), (n,)) for v in pair)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be (shift, scale), each a number or {n} numbers, got {pair!r}") from None
    if not np.all(np.isfinite(scale)) or np.any(scale == 0) or not np.all(np.isfinite(shift)):
        raise ValueError(f"{what} must be (shift, scale) with finite shifts and non-zero finite scales")
    return shift.astype(np.float64), scale.astype(np.float64)


def edge_maps(model, tr, input_affine=None, output_affine=None) -> list[EdgeMaps]:
    """One :class:`EdgeMaps` per layer (see the module docstring), from a ``KAN.trace``
    of the data the diagram is drawn for. ``input_affine``: (shift, scale), scalars or
    (n_inputs,); ``output_affine``: (shift, scale), scalars or (n_outputs,)."""
    specs, layers = model.specs, model.layers
    n_layers = len(layers)
    in_shift, in_scale = _affine(input_affine, model.n_inputs, "input_affine")
    out_shift, out_scale = _affine(output_affine, model.n_outputs, "output_affine")
    # the output layer's sub-nodes: sum outputs in the user's units, product factors as they are
    last = specs[-1]
    owner = subnode_owner(last).numpy()
    r_last, shift_last = np.ones(last.n_subnodes), np.zeros(last.n_subnodes)
    if output_affine is not None:
        for o, j in enumerate(owner):
            if j < last.n_sum:
                r_last[o], shift_last[o] = out_scale[j], out_shift[j]
    r = [None] * n_layers
    r[-1] = r_last
    node_signs = [np.ones(s.n_nodes) for s in specs]
    for l in range(n_layers - 1, 0, -1):  # top down: the signs above decide the ones below
        node_signs[l] = _orientation(layers[l], tr.inputs[l], tr.acts[l], r[l])
        r[l - 1] = _subnode_signs(specs[l], node_signs[l])
    maps = []
    for l in range(n_layers):
        if l == 0:
            p, q = 1.0 / in_scale, -in_shift / in_scale
        else:
            p, q = node_signs[l].astype(np.float64), np.zeros(specs[l].n_nodes)
        # a lone edge into a (sub-)node carries its bias (and, at the output, y's shift)
        lone = (layers[l].mask.detach().cpu().numpy() > 0).sum(1) == 1
        bias = layers[l].bias.detach().cpu().double().numpy()
        e = np.where(lone, r[l] * bias + (shift_last if l == n_layers - 1 else 0.0), 0.0)
        maps.append(EdgeMaps(p, q, r[l], e))
    return maps


def _orientation(layer, x, acts, r_out: np.ndarray) -> np.ndarray:
    """Signs (in_l,) of a hidden node layer: −1 where the node's alive outgoing edges,
    as drawn (times r_out), decrease on the whole (negative summed covariance of edge
    value with node value over the data). x: (batch, in_l), acts: (batch, out_l, in_l)."""
    x = x.detach().cpu().double().numpy()
    acts = acts.detach().cpu().double().numpy()
    alive = layer.mask.detach().cpu().numpy() > 0  # (out, in)
    xc = x - x.mean(0)
    ac = acts - acts.mean(0)
    cov = np.einsum("bi,boi->oi", xc, ac) / max(len(x), 1)  # (out, in)
    trend = (cov * alive * r_out[:, None]).sum(0)
    return np.where(trend < 0, -1.0, 1.0)


def _rounded(v: float):
    """v to SIG_DIGITS significant digits, as a sympy number (an Integer when whole)."""
    v = float(f"{v:.{SIG_DIGITS}g}")
    if v == int(v) and abs(v) < 10 ** SIG_DIGITS:
        return sympy.Integer(int(v))
    return sympy.Float(v, SIG_DIGITS)


def snapped_form(name: str, a: float, b: float, c: float, d: float, var: str = "x",
                 x_range: tuple[float, float] | None = None, y_span: float | None = None) -> str:
    """Text of c·f(a·x + b) + d with its constants rounded to 3 significant digits, e.g.
    ``0.443·sin(3.14·x + 0.005)``; the bare name for a function the library lacks.

    Constants below the 3 digits of the edge's own scale are left out: b when
    |b| < 0.001·|a|·max|x| over ``x_range`` (for functions defined on every real
    number only: near a pole or a domain end a small b matters), d when
    |d| < 0.001·``y_span`` (the range of the drawn curve)."""
    try:
        entry = get_function(name)
    except ValueError:
        return name
    fn = entry.sympy_fn
    if x_range is not None and not entry.restricted and abs(b) < 1e-3 * abs(a) * max(map(abs, x_range)):
        b = 0.0
    if y_span is not None and abs(d) < 1e-3 * y_span:
        d = 0.0
    x = sympy.Symbol(var)
    expr = _rounded(c) * fn(_rounded(a) * x + _rounded(b)) + _rounded(d)
    return str(expr).replace("**", "^").replace("*", "·")


__all__ = ["EdgeMaps", "SIG_DIGITS", "edge_maps", "snapped_form"]
