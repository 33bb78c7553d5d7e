"""Choosing an edge's function: a scale-invariant trade-off of fit against complexity.

For edge e feeding (sub-)node n and candidate f with fitted R²_f:

    rel_f   = (1 − R²_f) · Var(φ_e) / scale(n)        # unexplained share of the node
    score_f = log10(max(rel_f, floor)) + w · complexity(f)

``scale(n)`` is the variance of the sum node the edge feeds (its mean square when the
node is a factor of a product node, where offsets matter). The zero function has
R² = 0, so rel_0 = Var(φ_e)/scale(n): what counts is how small an edge is *relative
to its node*, not in absolute terms. Only genuinely dead edges may become 0: the zero
function is a candidate only when

    rel_0 ≤ floor · 10^min(w, ZERO_WEIGHT_CAP)        (ZERO_WEIGHT_CAP = 1)

i.e. when dropping the edge costs no more than an exact fit of complexity 1 would be
charged at a weight of at most 1 — at most 10× the accuracy floor. The cap matters: with
10^w alone, every edge qualifies once w ≥ −log10(floor) (w ≥ 7 at the default floor)
and then 0, with complexity 0, beats everything (sin(3x) snapped to 0 at w = 10). So an
edge carrying more than 10·floor of its node's variance (a *significant* edge) never
becomes 0, at any complexity weight; large weights trade only among the non-zero
functions (an edge at worst becomes linear), and dropping whole terms for simplicity is
left to the Pareto front (``prune_terms``), which judges it by the formula's loss.
(A plain score comparison would let 0 beat a function explaining 90 % of a significant
edge.)
``floor`` is the accuracy below which fits are considered exact (numerical noise of
the trained network), so among exact fits the simplest wins; ``w`` (complexity_weight)
is the number of decades of relative error one unit of complexity must buy.
The lowest score wins; ties go to the lower complexity, then library order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..checks import check_number
from .fitting import EdgeFits

#: default accuracy floor (share of a node's variance regarded as numerical noise)
ACCURACY_FLOOR = 1e-7
#: default decades of relative error per unit of complexity
COMPLEXITY_WEIGHT = 1.0
#: the zero function is allowed when rel_0 <= floor * 10**min(w, ZERO_WEIGHT_CAP)
ZERO_WEIGHT_CAP = 1.0


def zero_allowed(rel_zero: torch.Tensor, complexity_weight: float, floor: float) -> torch.Tensor:
    """Whether an edge is dead enough to become "0": its share of its node's variance
    ``rel_zero`` (any shape) is at most ``floor · 10^min(w, ZERO_WEIGHT_CAP)``."""
    return rel_zero <= floor * 10.0 ** min(float(complexity_weight), ZERO_WEIGHT_CAP)


def selection_scores(fits: EdgeFits, node_scale: torch.Tensor, complexity_weight: float = COMPLEXITY_WEIGHT,
                     floor: float = ACCURACY_FLOOR) -> torch.Tensor:
    """(E, F) scores (lower is better; inf = infeasible). node_scale: (E,) scale of the node each edge feeds."""
    check_number("complexity_weight", complexity_weight)
    if not (isinstance(floor, (int, float)) and 0 < floor < 1):
        raise ValueError(f"accuracy floor must lie in (0, 1), got {floor!r}")
    scale = node_scale.detach().to(torch.float64).reshape(-1, 1).clamp_min(1e-300)
    rel = fits.residual_variance() / scale
    score = torch.log10(rel.clamp_min(floor)) + complexity_weight * fits.complexity[None, :]
    ok = torch.isfinite(fits.r2)
    # the zero function only for dead edges: dropping the edge must cost no more than an
    # exact complexity-1 fit would be charged at a weight of at most ZERO_WEIGHT_CAP
    zero = torch.tensor([f.mode == "zero" for f in fits.functions])
    dead = zero_allowed(rel, complexity_weight, floor)  # read in the zero column: rel = rel_0
    ok = ok & (~zero[None, :] | dead)
    return torch.where(ok, score, torch.full_like(score, math.inf))


def ranking(scores: torch.Tensor, complexity: torch.Tensor) -> np.ndarray:
    """(E, F) function indices per edge, best first (score, then complexity, then order)."""
    s = scores.numpy()
    comp = np.broadcast_to(complexity.numpy()[None, :], s.shape)
    order = np.broadcast_to(np.arange(s.shape[1])[None, :], s.shape)
    return np.stack([np.lexsort((order[e], comp[e], s[e])) for e in range(s.shape[0])]) if s.size else \
        np.zeros(s.shape, dtype=np.int64)


@dataclass(frozen=True)
class Candidate:
    """One fitted function for an edge: c·f(a·x + b) + d."""

    name: str
    a: float
    b: float
    c: float
    d: float
    r2: float
    complexity: int
    score: float

    @property
    def params(self) -> tuple[float, float, float, float]:
        return (self.a, self.b, self.c, self.d)


class Suggestions(list):
    """Candidates for one edge, best first (a list of :class:`Candidate`) with a table repr."""

    def __init__(self, items=(), edge: tuple[int, int, int] | None = None):
        super().__init__(items)
        self.edge = edge

    @property
    def best(self) -> Candidate:
        if not self:
            raise ValueError("no feasible candidate")
        return self[0]

    def rows(self) -> list[dict]:
        return [{"function": c.name, "a": c.a, "b": c.b, "c": c.c, "d": c.d, "r2": c.r2,
                 "complexity": c.complexity, "score": c.score} for c in self]

    def __repr__(self) -> str:
        head = f"edge (l={self.edge[0]}, i={self.edge[1]}, j={self.edge[2]})" if self.edge else "candidates"
        lines = [head, f"{'function':>10} {'1-r2':>10} {'complexity':>10} {'score':>8}   c*f(a*x+b)+d"]
        for c in self:
            lines.append(f"{c.name:>10} {1 - c.r2:>10.3g} {c.complexity:>10d} {c.score:>8.2f}   "
                         f"a={c.a:.4g} b={c.b:.4g} c={c.c:.4g} d={c.d:.4g}")
        return "\n".join(lines)


def candidates_for(fits: EdgeFits, scores: torch.Tensor, order: np.ndarray, e: int, k: int,
                   edge: tuple[int, int, int] | None = None) -> Suggestions:
    """The k best feasible candidates of edge e."""
    items = []
    for f in order[e]:
        s = float(scores[e, f])
        if not math.isfinite(s):
            continue
        a, b, c, d = (float(v) for v in fits.params[e, f])
        fn = fits.functions[f]
        items.append(Candidate(fn.name, a, b, c, d, float(fits.r2[e, f]), fn.complexity, s))
        if len(items) >= k:
            break
    if not items:  # nothing feasible (cannot happen for a varying edge: "x" always fits)
        f = next(j for j, fn in enumerate(fits.functions) if fn.mode == "zero")
        a, b, c, d = (float(v) for v in fits.params[e, f])
        items.append(Candidate("0", a, b, c, d, float(fits.r2[e, f]), 0, float("inf")))
    return Suggestions(items, edge)
