"""From a fully snapped KAN to one sympy expression in the user's variables and units.

:func:`model_formula` composes the network — edges c·f(a·x + b) + d, sum nodes with
their biases, product nodes of any arity — into a sympy expression per output
(:mod:`symkan.symbolic.compose`), with the input/output standardisation built in:

* ``input_transform=(shift, scale)``: the network saw (x − shift)/scale;
* ``output_transform=(shift, scale)``: y = scale·net + shift;

so that simplification and constant snapping happen in the user's units. Then:

1. **verify** (always): the composed expression must reproduce the snapped network on
   X (or on probe points when no X is given) to ``verify_rtol``; otherwise it raises —
   a formula that is not the network is a bug, not a result;
2. **simplify** with sympy (:mod:`symkan.symbolic.simplify`) — skipped above
   ``max_simplify_ops`` operations and stopped after ``simplify_timeout`` seconds
   (:mod:`.time_limit`); a simplified form that does not evaluate to the same
   numbers is discarded;
3. **canonicalise** products of sums (:func:`symkan.symbolic.constants.monic`);
4. with data (X, y): **refit and snap constants** to 0 (dropping the term), integers,
   simple rationals and rational multiples of π, each kept only when the loss on
   (X, y) stays within tolerance (:class:`symkan.symbolic.constants.ConstantFit`);
   without data only floats within the model's precision (16 ulp of its dtype, at
   least 1e-9, relative) of such a value are snapped;
5. simplify once more and report ``loss`` (mean squared error on (X, y)) and
   ``complexity``: the number of nodes of the sympy expression tree
   (``sympy.preorder_traversal``: every operator, function, symbol and number counts
   1; sympy writes a − b as a + (−1)·b and a/b as a·b⁻¹, which count as such).
"""
from __future__ import annotations

import copy
import logging

import numpy as np
import sympy
import torch

from ..checks import to_target, to_tensor_2d
from ..sample_weights import mean_square
from .compose import compose, transform_pair
from .constants import MAX_REFIT_CONSTANTS, ConstantFit, clean_numbers, monic
from .formula import Formula, evaluate_expression
from .names import safe_names
from .refit import domain_violations
from .simplify import bounded_simplify, expanded_alternative, linearized_alternative, snap_exact

log = logging.getLogger(__name__)


def _close(a: np.ndarray, ref: np.ndarray, rtol: float) -> bool:
    """a is finite and within rtol of ref, relative to |ref| plus ref's typical size."""
    scale = float(np.std(ref) + np.mean(np.abs(ref))) + 1e-300
    return bool(np.all(np.isfinite(a)) and np.all(np.abs(a - ref) <= rtol * (np.abs(ref) + scale)))


def _verify(raw, variables, Xu: np.ndarray, ref: np.ndarray, rtol: float, probe: bool):
    """Check that the composed expression ``raw`` reproduces the network's outputs ``ref``
    (n,) at the rows Xu (n, d): on every row with data, on the finite ones of probe
    points. Returns raw's values (n,) and the rows checked (n,) bool; raises
    RuntimeError (a bug) when they differ by more than ``rtol``."""
    vals = evaluate_expression(raw, variables, Xu)
    ok_rows = np.isfinite(vals) if probe else np.ones(len(vals), dtype=bool)
    if probe and ok_rows.sum() < 16:
        raise ValueError("cannot verify the formula on probe points (arguments outside the functions' "
                         "domains); pass X")
    if not _close(vals[ok_rows], ref[ok_rows], rtol):
        dev = float(np.nanmax(np.abs(vals[ok_rows] - ref[ok_rows])))
        raise RuntimeError(f"the composed formula does not reproduce the snapped network "
                           f"(max deviation {dev:.3g}); this is a bug in symkan")
    return vals, ok_rows


def _probe_points(model, n: int = 256) -> np.ndarray:
    """Deterministic points in the first layer's typical input box (network units)."""
    d = model.n_inputs
    lo, hi = -np.ones(d), np.ones(d)
    dom = getattr(model.layers[0].basis, "domain", None)
    if callable(dom):
        try:
            a, b = dom()
            lo, hi = a.detach().cpu().double().numpy(), b.detach().cpu().double().numpy()
        except (NotImplementedError, AttributeError, TypeError):
            pass
    g = torch.Generator().manual_seed(0)
    t = torch.rand(n, d, generator=g, dtype=torch.float64).numpy()
    return lo + (hi - lo) * t


def model_formula(model, names=None, input_transform=None, output_transform=None, X=None, y=None, *,
                  simplify: bool = True, snap: bool = True, snap_rtol: float = 1e-2, snap_atol: float = 1e-11,
                  refit_constants: bool = True, max_refit_constants: int = MAX_REFIT_CONSTANTS,
                  max_simplify_ops: int = 150,
                  simplify_timeout: float | None = 3.0, verify_rtol: float = 1e-6, deadline: float | None = None,
                  sample_weight=None):
    """The formula of a fully snapped network (see the module doc for every step).

    Args:
        model: a KAN whose alive edges are all symbolic (``auto_snap(...).model``).
        names: input names (default x1, x2, ...), one per input; the formula's symbols
            get their safe names (:func:`symkan.symbolic.names.safe_names`).
        input_transform, output_transform: (shift, scale) pairs, scalars or per column.
        X, y: data in the user's units (X: (n, d), y: (n,) or (n, outputs)) used to
            verify the composition, snap constants and report the loss.
        snap_rtol, snap_atol: a snap is kept when the loss stays below
            loss·(1 + snap_rtol) + snap_atol·Var(y).
        refit_constants, max_refit_constants: refit the free constants after each
            snap (skipped for formulas with more constants than this).
        deadline: a ``time.monotonic()`` value past which simplification and constant
            snapping stop (the formula is returned as far as it got).
        sample_weight: (n,) weights of the rows of X in the constants' fits and the loss
            (:mod:`symkan.sample_weights`); None: the plain mean.

    Returns: a :class:`Formula`, or a list of them for a model with several outputs.
    """
    if not (hasattr(model, "layers") and hasattr(model, "specs")):
        raise ValueError(f"expected a symkan KAN, got {type(model).__name__}")
    d, k_out = model.n_inputs, model.n_outputs
    if names is None:
        names = [f"x{k + 1}" for k in range(d)]
    names = [str(n) for n in names] if not isinstance(names, str) else [names]
    if len(names) != d:
        raise ValueError(f"names has {len(names)} entries but the model has {d} inputs")
    symbol_names = safe_names(names)  # distinct, non-empty; renamed where printing would be ambiguous
    s_in, c_in = transform_pair(input_transform, d, "input_transform")
    s_out, c_out = transform_pair(output_transform, k_out, "output_transform")
    net = _float64(model)
    if y is not None and X is None:
        raise ValueError("y needs X")
    if X is not None:
        Xt = to_tensor_2d(X, "X", n_features=d, dtype=torch.float64, min_rows=2)
        Xu = Xt.cpu().numpy()
        yu = None
        if y is not None:
            yu = to_target(y, Xu.shape[0], "y", n_outputs=k_out, dtype=torch.float64).cpu().numpy()
        Xn = (Xu - s_in) / c_in
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        bad = domain_violations(net, _tensor_like(Xn, net))
        if bad:
            desc = ", ".join(f"(l={l}, i={i}, j={j}) {name}" for l, i, j, name in bad[:5])
            raise ValueError(f"symbolic edges get arguments outside their function's domain on X: {desc}")
    else:
        Xn = _probe_points(net)
        Xu, yu = Xn * c_in + s_in, None
    with torch.no_grad():
        out_net = net(_tensor_like(Xn, net)).cpu().numpy() * c_out + s_out  # (n, k) user units
    variables = [sympy.Symbol(n, real=True) for n in symbol_names]
    raws = compose(net, variables, (s_in, c_in), (s_out, c_out))
    formulas = []
    for k, raw in enumerate(raws):
        vals, ok_rows = _verify(raw, variables, Xu, out_net[:, k], verify_rtol, probe=X is None)
        Xv, ref_v = Xu[ok_rows], vals[ok_rows]
        expr = clean_numbers(raw)

        def accept(candidate, current, target=None, tol=verify_rtol):
            """candidate if it evaluates like target on the verification rows, else current."""
            try:
                cand_vals = evaluate_expression(candidate, variables, Xv)
            except (TypeError, ValueError, ZeroDivisionError, OverflowError, NameError, KeyError) as err:
                log.debug("discarding a rewrite that cannot be evaluated: %s", err)
                return current
            return candidate if _close(cand_vals, ref_v if target is None else target, tol) else current

        if simplify:
            expr = accept(clean_numbers(bounded_simplify(expr, max_simplify_ops, simplify_timeout, deadline)), expr)
        expr = accept(clean_numbers(monic(expr)), expr)
        loss = None
        if yu is not None:
            yk = yu[:, k]
            if snap and expr.atoms(sympy.Float):
                cf = ConstantFit(expr, variables, Xu, yk, weights)
                cf.snap(rtol=snap_rtol, atol=snap_atol, refit=refit_constants, max_refit=max_refit_constants,
                        deadline=deadline)
                snapped = cf.expression()
                if simplify:
                    simpler = clean_numbers(bounded_simplify(snapped, max_simplify_ops, simplify_timeout, deadline))
                    snapped = accept(simpler, snapped, evaluate_expression(snapped, variables, Xv))
                new_vals = evaluate_expression(snapped, variables, Xu)
                if np.all(np.isfinite(new_vals)):
                    expr = snapped
            vals_final = evaluate_expression(expr, variables, Xu)
            loss = mean_square(vals_final - yk, weights)
            if snap and expr.atoms(sympy.Float):
                alt = expanded_alternative(expr, variables, Xu, yk, loss, snap_rtol=snap_rtol, snap_atol=snap_atol,
                                           max_refit=max_refit_constants, max_ops=max_simplify_ops,
                                           timeout=simplify_timeout, deadline=deadline, weights=weights)
                if alt is not None:
                    expr, loss = alt
            if snap:
                alt = linearized_alternative(expr, variables, Xu, yk, loss, snap_rtol=snap_rtol, snap_atol=snap_atol,
                                             max_refit=max_refit_constants, deadline=deadline, weights=weights)
                if alt is not None:
                    expr, loss = alt
        elif snap:  # only what the model's own precision cannot tell apart
            eps = float(torch.finfo(next(iter(model.parameters())).dtype).eps)
            expr = accept(clean_numbers(snap_exact(expr, max(1e-9, 16 * eps))), expr, tol=max(verify_rtol, 64 * eps))
        plain = {v: sympy.Symbol(v.name) for v in variables}
        formulas.append(Formula(expr.xreplace(plain), [plain[v] for v in variables], loss, names=names))
    return formulas[0] if k_out == 1 else formulas


def _float64(model):
    """An evaluation-mode float64 copy of model."""
    net = copy.deepcopy(model).to(torch.float64)
    net.eval()
    return net


def _tensor_like(arr: np.ndarray, model) -> torch.Tensor:
    """arr as a float64 tensor on the model's device."""
    p = next(iter(model.parameters()))
    return torch.as_tensor(arr, dtype=torch.float64, device=p.device)


__all__ = ["model_formula"]
