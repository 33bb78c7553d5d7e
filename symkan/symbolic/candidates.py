"""Several formulas of different complexity from one trained network (for a Pareto front).

Two sources, both cheap compared with training:

* **complexity weights** — :func:`auto_snap` is run once per ``complexity_weight``
  (decades of relative error one unit of function complexity must buy): small
  weights keep the most accurate edge functions, large ones prefer x, x², 0 ...;
* **term pruning** — from each formula, the additive term whose removal raises the
  loss least is dropped (the remaining constants refitted), repeatedly, down to a
  single term.

:func:`formula_candidates` returns all of them as :class:`Formula` objects (loss on
the given data, complexity); picking the front is left to the caller
(``symkan.pareto.ParetoFront`` keeps the non-dominated ones on held-out data).
"""
from __future__ import annotations

import logging
import math
import time

import numpy as np
import sympy

from .. import work
from .constants import ConstantFit, clean_numbers
from .formula import Formula

log = logging.getLogger(__name__)

#: term pruning always gets this many seconds, even past a deadline (the simpler
#: formulas on the Pareto front come from it), unless a ``cutoff`` stops it earlier
MIN_PRUNE_SECONDS = 2.0


def _removals(expr: sympy.Expr):
    """Every expression obtained by deleting one additive term (with variables) from
    one sum anywhere in the tree."""
    out = []
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Add):
            terms = [t for t in node.args if t.free_symbols]
            if len(terms) < 2:
                continue
            for t in terms:
                out.append(expr.xreplace({node: node - t}))
    return out


def prune_terms(formula: Formula, X: np.ndarray, y: np.ndarray, *, max_steps: int = 10,
                refit: bool = True, max_refit: int = 20, time_limit: float | None = 10.0,
                deadline: float | None = None, weights: np.ndarray | None = None) -> list[Formula]:
    """Successively simpler formulas made by deleting one additive term at a time from
    any sum in the expression (greedy: the deletion with the lowest loss after refitting
    a new overall scale and offset and the remaining constants). X, y in the formula's
    units. Returns the new formulas, simplest last; after ``time_limit`` seconds or past
    ``deadline`` (a ``time.monotonic()`` value, which also stops a refit under way) or
    the active work meter's cutoff (:mod:`symkan.work`), those found so far (each step
    refits every removal, so a long sum costs many refits).
    ``weights`` (n,): the rows' weights in the losses (:mod:`symkan.sample_weights`)."""
    stop = math.inf if time_limit is None else time.monotonic() + float(time_limit)
    stop = stop if deadline is None else min(stop, deadline)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    variables = list(formula.variables)
    expr = formula.expr
    out = []
    for _ in range(int(max_steps)):
        best = None
        for rest in _removals(expr):
            if time.monotonic() > stop or work.past_cutoff():
                log.info("prune_terms: time or work limit reached after %d formulas", len(out))
                return out
            if not rest.free_symbols:
                continue
            cand = sympy.Float(1.0) * rest + sympy.Float(0.25)  # scale and offset, refitted below
            cf = ConstantFit(cand, variables, X, y, weights)
            if refit and 0 < len(cf.syms) <= max_refit:
                cf.values, loss = cf.refit(cf.values, np.ones(len(cf.syms), dtype=bool), deadline=deadline)
            else:
                loss = cf.loss(cf.values)
            if np.isfinite(loss) and (best is None or loss < best[0]):
                best = (loss, clean_numbers(cf.expression()))
        if best is None:
            break
        expr = best[1]
        out.append(Formula(expr, variables, best[0], names=formula.names))
    return out


def formula_candidates(model, X, y=None, *, complexity_weights=(0.3, 1.0, 3.0), names=None,
                       input_transform=None, output_transform=None, prune: bool = True,
                       deadline: float | None = None, cutoff: float | None = None, sample_weight=None,
                       **snap_options) -> list[Formula]:
    """Formulas of several complexities from one trained network, simplest first.

    X, y: in network units, as for :func:`auto_snap` (the formulas and their losses are
    in the user's units given the transforms). ``snap_options`` go to :func:`auto_snap`.
    Duplicates (same expression) are removed; each formula's ``loss`` is on (X, y).
    Works for single-output networks. ``deadline`` (a ``time.monotonic()`` value): weights
    after the first are skipped once it has passed, and term pruning gets the time left
    (at least ``MIN_PRUNE_SECONDS``, at most 10 s per formula). ``cutoff`` (likewise):
    where every step under way stops with what it has — the joint refits, simplification
    and constant snapping of :func:`auto_snap` and term pruning. The active work meter
    (:mod:`symkan.work`) stops the same steps: its limit skips the later weights, its
    cutoff stops the steps under way. ``sample_weight`` (n,): the rows' weights in every
    loss, of the snap and of term pruning.
    """
    from .compose import to_user_units
    from .snap import auto_snap

    if model.n_outputs != 1:
        raise ValueError("formula_candidates needs a single-output network")
    weights = list(complexity_weights)
    if not weights:
        raise ValueError("complexity_weights must not be empty")
    found: dict[str, Formula] = {}
    for k, w in enumerate(weights):
        if k and ((deadline is not None and time.monotonic() > deadline) or work.spent()):
            log.info("budget spent; skipping complexity weights %s", tuple(weights[k:]))
            break
        res = auto_snap(model, X, y, complexity_weight=w, names=names, input_transform=input_transform,
                        output_transform=output_transform, sample_weight=sample_weight,
                        **{"deadline": cutoff, **snap_options})
        f = res.formula
        f.network = res.model
        found.setdefault(str(f.expr), f)
        if prune:
            Xd = X if y is not None else X
            Xu, yu = to_user_units(_as_np(Xd), _as_np(y if y is not None else _net_out(model, X)),
                                   input_transform, output_transform)
            limit = 10.0 if deadline is None else min(10.0, max(MIN_PRUNE_SECONDS, deadline - time.monotonic()))
            weights = None if sample_weight is None else _as_np(sample_weight).reshape(-1)
            for g in prune_terms(f, Xu, yu[:, 0], time_limit=limit, deadline=cutoff, weights=weights):
                g.network = res.model  # the network of the full formula it was cut from
                found.setdefault(str(g.expr), g)
    return sorted(found.values(), key=lambda f: (f.complexity, f.loss if f.loss is not None else np.inf))


def _as_np(a):
    import torch

    if isinstance(a, torch.Tensor):
        return a.detach().cpu().double().numpy()
    if hasattr(a, "to_numpy"):
        return a.to_numpy(dtype=np.float64)
    return np.asarray(a, dtype=np.float64)


def _net_out(model, X):
    import torch

    with torch.no_grad():
        p = next(iter(model.parameters()))
        return model(torch.as_tensor(_as_np(X), dtype=p.dtype, device=p.device))
