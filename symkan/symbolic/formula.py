"""From a fully snapped KAN to one sympy expression in the user's variables and units.

:func:`model_formula` composes the network — edges c·f(a·x + b) + d, sum nodes with
their biases, product nodes of any arity — into a sympy expression per output, with
the input/output standardisation built in:

* ``input_transform=(shift, scale)``: the network saw (x − shift)/scale;
* ``output_transform=(shift, scale)``: y = scale·net + shift;

so that simplification and constant snapping happen in the user's units. Then:

1. **verify** (always): the composed expression must reproduce the snapped network on
   X (or on probe points when no X is given) to ``verify_rtol``; otherwise it raises —
   a formula that is not the network is a bug, not a result;
2. **simplify** with sympy — skipped above ``max_simplify_ops`` operations and stopped
   after ``simplify_timeout`` seconds (SIGALRM, main thread only); a simplified form
   that does not evaluate to the same numbers is discarded;
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

import logging
import math
import signal
import threading
import time

import numpy as np
import sympy
import torch

from ..functions.library import get_function
from ..validation import to_target, to_tensor_2d
from .constants import MAX_REFIT_CONSTANTS, ConstantFit, clean_numbers, monic, snap_candidates
from .refit import domain_violations

log = logging.getLogger(__name__)

BACKENDS = ("numpy", "torch")


def expression_complexity(expr: sympy.Expr) -> int:
    """Number of nodes in the sympy expression tree."""
    return sum(1 for _ in sympy.preorder_traversal(expr))


class Formula:
    """A closed-form model y = expr(x₁, …, x_d).

    Attributes: ``expr`` (sympy expression), ``variables`` (the d input symbols, in
    column order), ``loss`` (mean squared error on the data its constants were fitted
    and checked on, None without data; :meth:`mse` scores held-out rows), ``complexity`` (tree nodes), ``constants`` (its floats),
    ``network`` (the snapped KAN it was read from, when it came from one; formulas made
    by dropping terms share their parent's network).
    """

    def __init__(self, expr: sympy.Expr, variables, loss: float | None = None, network=None):
        self.expr = expr
        self.variables = tuple(variables)
        self.loss = loss
        self.network = network

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.variables]

    @property
    def complexity(self) -> int:
        return expression_complexity(self.expr)

    @property
    def constants(self) -> tuple[float, ...]:
        """The floating-point numbers left in the expression (snapped ones are exact)."""
        return tuple(float(f) for f in sympy.preorder_traversal(self.expr) if isinstance(f, sympy.Float))

    def sympy(self) -> sympy.Expr:
        return self.expr

    def latex(self) -> str:
        return sympy.latex(self.expr)

    def to_callable(self, backend: str = "numpy"):
        """A function of X (n, d) -> (n,): numpy arrays (``"numpy"``) or tensors (``"torch"``)."""
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        fn = sympy.lambdify(self.variables, self.expr, modules=backend)
        d = len(self.variables)

        def call(X):
            if backend == "numpy":
                X = np.asarray(X, dtype=np.float64)
            elif not isinstance(X, torch.Tensor):
                X = torch.as_tensor(np.asarray(X, dtype=np.float64))
            if X.ndim != 2 or X.shape[1] != d:
                raise ValueError(f"X must have shape (n, {d}); got {tuple(X.shape)}")
            cols = [X[:, k] for k in range(d)]
            if backend == "numpy":
                with np.errstate(all="ignore"):
                    out = fn(*cols)
                return np.broadcast_to(np.asarray(out, dtype=np.float64), (X.shape[0],)).copy()
            out = fn(*cols)
            if not isinstance(out, torch.Tensor):
                out = torch.full((X.shape[0],), float(out), dtype=X.dtype, device=X.device)
            return out.expand(X.shape[0]).clone() if out.ndim == 0 else out

        return call

    def evaluate(self, X) -> np.ndarray:
        """expr at the rows of X (n, d) -> (n,) numpy float64."""
        return self.to_callable("numpy")(X)

    def mse(self, X, y) -> float:
        """Mean squared error on rows the formula was not fitted on (held-out data):
        X (n, d), y (n,) in the formula's units; inf where it is not finite.
        ``loss`` is the same measure on the data the constants were fitted to."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if X.ndim != 2 or X.shape[1] != len(self.variables) or X.shape[0] != y.shape[0]:
            raise ValueError(f"X must be (n, {len(self.variables)}) and y (n,), got {X.shape} and {y.shape}")
        with np.errstate(all="ignore"):
            pred = np.broadcast_to(self.evaluate(X), y.shape)
        return float(np.mean((pred - y) ** 2)) if np.all(np.isfinite(pred)) else math.inf

    def __str__(self) -> str:
        return str(self.expr)

    def __repr__(self) -> str:
        loss = "None" if self.loss is None else f"{self.loss:.4g}"
        return f"Formula({self.expr}, complexity={self.complexity}, loss={loss})"


# --- transforms ------------------------------------------------------------------------
def _transform(t, d: int, name: str) -> tuple[np.ndarray, np.ndarray]:
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
    s, c = _transform(input_transform, X.shape[1], "input_transform")
    Xu = X * c + s
    if y is None:
        return Xu, None
    y = np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y, dtype=np.float64)
    y2 = y.reshape(len(y), -1)
    s, c = _transform(output_transform, y2.shape[1], "output_transform")
    return Xu, y2 * c + s


# --- composition -----------------------------------------------------------------------
def _num(v: float) -> sympy.Expr:
    if v == round(v) and abs(v) < 1e15:
        return sympy.Integer(int(round(v)))
    return sympy.Float(v)


def _edge_expr(fn, a, b, c, d, x):
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
    s_in, c_in = _transform(input_transform, d, "input_transform")
    s_out, c_out = _transform(output_transform, model.n_outputs, "output_transform")
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
                fn = get_function(sym.names[int(sym.func_index[o, i])])
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


# --- numerics --------------------------------------------------------------------------
def _evaluate(expr, variables, X: np.ndarray) -> np.ndarray:
    fn = sympy.lambdify(variables, expr, modules="numpy")
    with np.errstate(all="ignore"):
        out = np.asarray(fn(*[X[:, k] for k in range(X.shape[1])]))
    if np.iscomplexobj(out):
        out = np.where(np.abs(out.imag) > 1e-12 * (1 + np.abs(out.real)), np.nan, out.real)
    return np.broadcast_to(out.astype(np.float64), (X.shape[0],)).copy()


def _close(a: np.ndarray, ref: np.ndarray, rtol: float) -> bool:
    scale = float(np.std(ref) + np.mean(np.abs(ref))) + 1e-300
    return bool(np.all(np.isfinite(a)) and np.all(np.abs(a - ref) <= rtol * (np.abs(ref) + scale)))


class _Timeout(Exception):
    pass


def _with_timeout(fn, seconds):
    """Run fn(); raise _Timeout after ``seconds`` (only in the main thread on POSIX)."""
    if not seconds or not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        return fn()

    def handler(signum, frame):
        raise _Timeout()

    old_handler = signal.signal(signal.SIGALRM, handler)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, float(seconds))
    t0 = time.monotonic()
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_delay > 0:  # give back whatever alarm was pending before
            signal.setitimer(signal.ITIMER_REAL, max(old_delay - (time.monotonic() - t0), 1e-3), old_interval)


def bounded_simplify(expr: sympy.Expr, max_ops: int = 150, timeout: float | None = 3.0) -> sympy.Expr:
    """sympy.simplify unless the expression is huge or simplification takes too long."""
    if sympy.count_ops(expr) > max_ops:
        log.debug("simplify skipped: %d operations > %d", sympy.count_ops(expr), max_ops)
        return expr
    try:
        return _with_timeout(lambda: sympy.simplify(expr), timeout)
    except _Timeout:
        log.debug("simplify stopped after %s s", timeout)
        return expr


def _allowed_loss(loss: float, y: np.ndarray, snap_rtol: float, snap_atol: float) -> float:
    """The loss a rewrite of a formula may reach and still be taken: ``loss`` times the
    larger of 1 + snap_rtol and the BIC's price of one parameter, plus snap_atol·Var(y)."""
    n = max(len(y), 2)
    return loss * max(1.0 + snap_rtol, math.exp(math.log(n) / n)) + snap_atol * float(np.var(y))


def expanded_alternative(expr: sympy.Expr, variables, X: np.ndarray, y: np.ndarray, loss: float, *,
                         snap_rtol: float = 1e-2, snap_atol: float = 1e-11, max_refit: int = MAX_REFIT_CONSTANTS,
                         max_ops: int = 150, timeout: float | None = 3.0):
    """The expanded form of ``expr`` with its constants refit and snapped, if it is simpler
    at no cost in loss; ``(expr, loss)`` or None.

    A network often computes a polynomial in a shifted, rescaled basis — e.g.
    (x₁ − 3.33)² + 1.04(x₂ − 3.33)² − 0.53(0.96x₁ + x₂ − 6.52)² — whose floats only
    cancel once multiplied out: expanded, the coefficients are 1, −2, 1, 0 … and snap.
    """
    try:
        expanded = _with_timeout(lambda: sympy.expand(expr), timeout)
    except _Timeout:
        return None
    if expanded == expr or sympy.count_ops(expanded) > max(3 * sympy.count_ops(expr), max_ops):
        return None
    cf = ConstantFit(clean_numbers(monic(expanded)), variables, X, y)
    if not 0 < len(cf.syms) <= max_refit:
        return None
    cf.snap(rtol=snap_rtol, atol=snap_atol, refit=True, max_refit=max_refit)
    candidate = clean_numbers(cf.expression())
    simpler = clean_numbers(bounded_simplify(candidate, max_ops, timeout))
    for option in (simpler, candidate):
        try:
            vals = _evaluate(option, variables, X)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, NameError, KeyError):
            continue
        if not np.all(np.isfinite(vals)):
            continue
        new = float(np.mean((vals - y) ** 2))
        if new <= _allowed_loss(loss, y, snap_rtol, snap_atol) and expression_complexity(option) < expression_complexity(expr):
            return option, new
    return None


#: functions that are the identity to first order at 0, f(z) = z + O(z³) (or O(z²))
_LINEAR_AT_ZERO = (sympy.sin, sympy.tan, sympy.tanh, sympy.asin, sympy.atan, sympy.atanh, sympy.sinh, sympy.asinh)
#: arguments below this everywhere on the data count as "near 0" for those functions
SMALL_ARGUMENT = 0.05


def linearized_alternative(expr: sympy.Expr, variables, X: np.ndarray, y: np.ndarray, loss: float, *,
                           snap_rtol: float = 1e-2, snap_atol: float = 1e-11, max_refit: int = MAX_REFIT_CONSTANTS,
                           small: float = SMALL_ARGUMENT):
    """``expr`` with sin(z), tan(z), tanh(z), … replaced by z where |z| < ``small`` on
    every row of X, constants refit and snapped; ``(expr, loss)`` if that is no worse
    (same rule as :func:`expanded_alternative`), else None.

    An edge that should be the identity can be snapped to c·sin(a·x) with a tiny a —
    as accurate as the data can tell on its range — and then c·a·x never snaps to
    the simple constant it is (I.39.11: 563·sin(0.00178·V·p/(Γ − 1))).
    """
    rep = {}
    for node in expr.atoms(sympy.Function):
        if isinstance(node, _LINEAR_AT_ZERO):
            try:
                vals = _evaluate(node.args[0], variables, X)
            except (TypeError, ValueError, ZeroDivisionError, OverflowError, NameError, KeyError):
                continue
            if np.all(np.isfinite(vals)) and float(np.max(np.abs(vals))) < small:
                rep[node] = node.args[0]
    if not rep:
        return None
    candidate = clean_numbers(expr.xreplace(rep))
    if candidate.atoms(sympy.Float):
        cf = ConstantFit(candidate, variables, X, y)
        if not 0 < len(cf.syms) <= max_refit:
            return None
        cf.snap(rtol=snap_rtol, atol=snap_atol, refit=True, max_refit=max_refit)
        candidate = clean_numbers(cf.expression())
    try:
        vals = _evaluate(candidate, variables, X)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, NameError, KeyError):
        return None
    if not np.all(np.isfinite(vals)):
        return None
    new = float(np.mean((vals - y) ** 2))
    return (candidate, new) if new <= _allowed_loss(loss, y, snap_rtol, snap_atol) else None


def _snap_exact(expr: sympy.Expr, rtol: float = 1e-9) -> sympy.Expr:
    """Without data: replace floats that equal a simple value to within rtol."""
    rep = {}
    for f in expr.atoms(sympy.Float):
        v = float(f)
        for c in snap_candidates(v, window=rtol):
            rep[f] = c
            break
        else:
            if abs(v) < 1e-300:
                rep[f] = sympy.Integer(0)
    return expr.xreplace(rep) if rep else expr


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


# --- public ----------------------------------------------------------------------------
def model_formula(model, names=None, input_transform=None, output_transform=None, X=None, y=None, *,
                  simplify: bool = True, snap: bool = True, snap_rtol: float = 1e-2, snap_atol: float = 1e-11,
                  refit_constants: bool = True, max_refit_constants: int = MAX_REFIT_CONSTANTS,
                  max_simplify_ops: int = 150,
                  simplify_timeout: float | None = 3.0, verify_rtol: float = 1e-6):
    """The formula of a fully snapped network (see the module doc for every step).

    Args:
        model: a KAN whose alive edges are all symbolic (``auto_snap(...).model``).
        names: input names (default x1, x2, ...), one per input.
        input_transform, output_transform: (shift, scale) pairs, scalars or per column.
        X, y: data in the user's units (X: (n, d), y: (n,) or (n, outputs)) used to
            verify the composition, snap constants and report the loss.
        snap_rtol, snap_atol: a snap is kept when the loss stays below
            loss·(1 + snap_rtol) + snap_atol·Var(y).
        refit_constants, max_refit_constants: refit the free constants after each
            snap (skipped for formulas with more constants than this).

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
    if len(set(names)) != d or any(not n for n in names):
        raise ValueError(f"names must be distinct non-empty strings, got {names}")
    s_in, c_in = _transform(input_transform, d, "input_transform")
    s_out, c_out = _transform(output_transform, k_out, "output_transform")
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
        bad = domain_violations(net, _tensor_like(Xn, net))
        if bad:
            desc = ", ".join(f"(l={l}, i={i}, j={j}) {name}" for l, i, j, name in bad[:5])
            raise ValueError(f"symbolic edges get arguments outside their function's domain on X: {desc}")
    else:
        Xn = _probe_points(net)
        Xu, yu = Xn * c_in + s_in, None
    with torch.no_grad():
        out_net = net(_tensor_like(Xn, net)).cpu().numpy() * c_out + s_out  # (n, k) user units
    variables = [sympy.Symbol(n, real=True) for n in names]
    raws = compose(net, variables, (s_in, c_in), (s_out, c_out))
    formulas = []
    for k, raw in enumerate(raws):
        ref = out_net[:, k]
        vals = _evaluate(raw, variables, Xu)
        ok_rows = np.isfinite(vals) if X is None else np.ones(len(vals), dtype=bool)
        if X is None and ok_rows.sum() < 16:
            raise ValueError("cannot verify the formula on probe points (arguments outside the functions' "
                             "domains); pass X")
        if not _close(vals[ok_rows], ref[ok_rows], verify_rtol):
            dev = float(np.nanmax(np.abs(vals[ok_rows] - ref[ok_rows])))
            raise RuntimeError(f"the composed formula does not reproduce the snapped network "
                               f"(max deviation {dev:.3g}); this is a bug in symkan")
        Xv, ref_v = Xu[ok_rows], vals[ok_rows]
        expr = clean_numbers(raw)

        def accept(candidate, current, target=None, tol=verify_rtol):
            """candidate if it evaluates like target on the verification rows, else current."""
            try:
                cand_vals = _evaluate(candidate, variables, Xv)
            except (TypeError, ValueError, ZeroDivisionError, OverflowError, NameError, KeyError) as err:
                log.debug("discarding a rewrite that cannot be evaluated: %s", err)
                return current
            return candidate if _close(cand_vals, ref_v if target is None else target, tol) else current

        if simplify:
            expr = accept(clean_numbers(bounded_simplify(expr, max_simplify_ops, simplify_timeout)), expr)
        expr = accept(clean_numbers(monic(expr)), expr)
        loss = None
        if yu is not None:
            yk = yu[:, k]
            if snap and expr.atoms(sympy.Float):
                cf = ConstantFit(expr, variables, Xu, yk)
                cf.snap(rtol=snap_rtol, atol=snap_atol, refit=refit_constants, max_refit=max_refit_constants)
                snapped = cf.expression()
                if simplify:
                    simpler = clean_numbers(bounded_simplify(snapped, max_simplify_ops, simplify_timeout))
                    snapped = accept(simpler, snapped, _evaluate(snapped, variables, Xv))
                new_vals = _evaluate(snapped, variables, Xu)
                if np.all(np.isfinite(new_vals)):
                    expr = snapped
            vals_final = _evaluate(expr, variables, Xu)
            loss = float(np.mean((vals_final - yk) ** 2))
            if snap and expr.atoms(sympy.Float):
                alt = expanded_alternative(expr, variables, Xu, yk, loss, snap_rtol=snap_rtol, snap_atol=snap_atol,
                                           max_refit=max_refit_constants, max_ops=max_simplify_ops,
                                           timeout=simplify_timeout)
                if alt is not None:
                    expr, loss = alt
            if snap:
                alt = linearized_alternative(expr, variables, Xu, yk, loss, snap_rtol=snap_rtol, snap_atol=snap_atol,
                                             max_refit=max_refit_constants)
                if alt is not None:
                    expr, loss = alt
        elif snap:  # only what the model's own precision cannot tell apart
            eps = float(torch.finfo(next(iter(model.parameters())).dtype).eps)
            expr = accept(clean_numbers(_snap_exact(expr, max(1e-9, 16 * eps))), expr, tol=max(verify_rtol, 64 * eps))
        plain = {v: sympy.Symbol(v.name) for v in variables}
        formulas.append(Formula(expr.xreplace(plain), [plain[v] for v in variables], loss))
    return formulas[0] if k_out == 1 else formulas


def _float64(model):
    import copy

    net = copy.deepcopy(model).to(torch.float64)
    net.eval()
    return net


def _tensor_like(arr: np.ndarray, model) -> torch.Tensor:
    p = next(iter(model.parameters()))
    return torch.as_tensor(arr, dtype=torch.float64, device=p.device)


__all__ = ["Formula", "model_formula", "compose", "expression_complexity", "bounded_simplify", "to_user_units"]
