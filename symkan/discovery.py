"""The staged discovery pipeline behind :class:`symkan.SymKANRegressor`.

For each rung of a ladder of (space, architecture) pairs, smallest first — the space
being the data as given or, for positive data, (log x, log|y|) (see symkan.spaces):

    train → sparsify (L1 + entropy) → prune (checked on held-out rows) → refit
    → snap → joint refit of the constants → formulas in the user's units

Every formula is scored on held-out rows; the caller keeps the Pareto front. The
search stops early once a formula reproduces the held-out data to round-off, or
explains it far better than the network it was read from, or when the time budget is
spent.

All arrays here are already standardised ("network units"); the transforms that map
them back to the user's units are passed along so that formulas come out in the
user's variables.
"""
from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .nn import KAN
from .spaces import finite_mse, to_user_formula
from .train import fit

log = logging.getLogger(__name__)

#: normalised held-out loss (1 − R²) below which a formula counts as exact and the
#: architecture search stops
EXACT_NMSE = 1e-9
#: a pruned network may lose at most this factor of the dense network's held-out loss
PRUNE_TOLERANCE = 2.0
#: a sparsified network this many times the pruning allowance off its dense network
#: has erased a genuine effect: sparsification is retried ten times weaker
SPARSIFY_TOLERANCE = 10.0
#: stop the search when a formula's held-out nmse is below this fraction of its network's
STOP_FACTOR = 1e-2
#: numeric held-out nmse (1 − R²) below which a trained network is worth snapping
SNAP_NMSE = 1e-2


@dataclass
class SearchSettings:
    """Knobs of one discovery run (the regressor fills them from its parameters)."""

    basis: str = "bspline"
    basis_options: dict = field(default_factory=dict)
    ladder: list = field(default_factory=list)  # (space name, full KAN width) to try, in order
    steps: int = 100
    lamb: float = 1e-3
    node_th: float = 1e-2
    edge_th: float = 3e-2
    functions: list | None = None
    complexity_weights: tuple = (0.3, 1.0, 3.0)
    seed: int = 0
    deadline: float | None = None  # time.monotonic() value; None = no budget


@dataclass
class Attempt:
    """What one architecture produced: the pruned numeric network, its formulas, timings."""

    width: list
    model: KAN
    formulas: list
    numeric_nmse: float
    seconds: float
    error: str | None = None
    space: str = "linear"


def default_widths(n_inputs: int) -> list:
    """Full KAN widths tried in the linear space when the user gives none, smallest first.

    1. ``[d, 1, 1]``: one hidden sum node and an outer function, g(Σ_i f_i(x_i)) —
       additive and generalised-additive formulas (exp(sin(πx) + y²), √(x² + y²), ...);
    2. ``[d, [d, m], 1]``: sum nodes plus m product nodes of two sub-nodes (x·y,
       x·sin(y), sums of such terms), pruned back to what the data need;
    3. ``[d, d, [0, [2]]]``: the output is the product of two functions of sums,
       f(Σ ...)·g(Σ ...) — ratios such as x/(1 + y²);
    4. ``[d, d, 1, 1]``: a generalised additive model of generalised additive models,
       g(Σ_j h_j(Σ_i f_ij(x_i))) — distances √((x₂ − x₁)² + (y₂ − y₁)²) and the like;
    5. ``[d, [2d + 1, m], 1]``: the Kolmogorov–Arnold width with product nodes.
    """
    d = int(n_inputs)
    if d == 1:
        return [[1, 1, 1], [1, 3, 1]]
    m = min(d - 1, 3)
    return [[d, 1, 1], [d, [d, m], 1], [d, d, [0, [2]]], [d, d, 1, 1], [d, [2 * d + 1, m], 1]]


SEPARABLE = "separable"


def separable_width(n_inputs: int) -> list:
    """One product node of arity d whose factor j sees only input j (the mask is set by
    :func:`train_pruned`): y = g(Π_j f_j(x_j)), a multiplicatively separable formula
    such as m·r·v·sin(θ) or p·cos(θ)/(4π·ε·r²)."""
    return [int(n_inputs), [0, [int(n_inputs)]], 1]


def default_ladder(n_inputs: int, log_space: bool) -> list:
    """(space, width) pairs tried in order: with positive data first the log space's
    cheapest network, ``[d, 1]`` (every product of powers); for d ≥ 3 the separable
    product (factors that are not powers, like sin θ); then the linear ladder of
    :func:`default_widths`, with the log space's ``[d, 2, 1]`` after its second rung: a
    power law times a factor of a ratio or product of inputs, g(v/c) or g(ħω/kT), whose
    edges snap to the log-space library entries. (Tried second, right after ``[d, 1]``,
    it won I.32.17 but cost I.8.14, I.26.2 and III.10.19 their 60 s budget on a check
    of 32 equations.) A rung may carry the tag ``SEPARABLE``."""
    d = int(n_inputs)
    linear = [("linear", w) for w in default_widths(d)]
    ladder = [("log", [d, 1])] if log_space else []
    if d >= 3:
        ladder.append(("linear", separable_width(d), SEPARABLE))
    ladder += linear[:2] + ([("log", [d, 2, 1])] if log_space else []) + linear[2:]
    return ladder


def build_width(n_inputs: int, hidden) -> list:
    """Full KAN width from a list of hidden node layers: ``[5]`` -> [d, 5, 1];
    ``[[5, 2]]`` (5 sum + 2 product nodes) -> [d, [5, 2], 1]; ``[5, 3]`` -> [d, 5, 3, 1].
    An int is shorthand for one layer of sum nodes."""
    if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
        hidden = [int(hidden)]
    if not isinstance(hidden, (list, tuple)) or not hidden:
        raise ValueError(f"hidden must be an int or a non-empty list of node layers, got {hidden!r}")
    return [int(n_inputs), *[list(h) if isinstance(h, tuple) else h for h in hidden], 1]


def _nmse(pred: np.ndarray, y: np.ndarray) -> float:
    var = float(np.var(y))
    if not np.all(np.isfinite(pred)):
        return math.inf
    return float(np.mean((pred - y) ** 2)) / (var if var > 0 else 1.0)


def _time_left(deadline) -> float:
    return math.inf if deadline is None else deadline - time.monotonic()


def _deadline_callback(deadline):
    """A fit callback that stops training once the time budget is spent."""
    return lambda step, history, model: _time_left(deadline) <= 0


def _val_nmse(model, space) -> float:
    with torch.no_grad():
        pred = model(space.X_val.to(next(model.parameters()).dtype)).double().numpy()[:, 0]
    return _nmse(pred, space.y_val.double().numpy()[:, 0])


def train_pruned(width, space, s: SearchSettings, separable: bool = False) -> KAN:
    """Train → sparsify → prune → refit one architecture on ``space`` (network units).

    Pruning is checked on the held-out rows: a pruned and refit network must stay within
    ``PRUNE_TOLERANCE`` × the dense network's held-out loss. Otherwise pruning removed
    something real (a small but genuine effect, like the relativistic factor next to a
    mass), and it is retried with thresholds ten times lower; when the sparsified network
    itself lost the accuracy (``SPARSIFY_TOLERANCE``) the whole is retried from a
    sparsification ten times weaker; then pruning is abandoned (the last sparsified,
    unpruned network is refit instead).

    With a deadline, each stage stops early once it passes (later stages are skipped
    when it has already passed).
    """
    from .separable import als_init, is_separable_product

    X, y = space.X, space.y
    model = KAN(width, basis=s.basis, seed=s.seed, **s.basis_options)
    grid = model.supports_grid_update
    if separable:  # factor j of the product node sees input j only
        with torch.no_grad():
            model.layers[0].mask.copy_(torch.eye(model.n_inputs, dtype=model.layers[0].mask.dtype))
        # the product's range moves a lot early in training; knots moved to it at step 0
        # stalled the fit (train RMSE 0.37 with grid updates vs 9e-4 without on m·r·v·sin θ)
        grid = False
        if is_separable_product(model):  # gradient training alone stalls when a factor crosses zero
            nmse = als_init(model, X, y, seed=s.seed)
            log.info("separable %s: ALS start at normalised MSE %.3g", width, nmse)
    steps = int(s.steps)
    stop = [_deadline_callback(s.deadline)] if s.deadline is not None else []

    def refit(net, seed):
        if _time_left(s.deadline) > 0:
            fit(net, X, y, steps=steps, update_grid_every=5 if grid else None, seed=seed, callbacks=stop)
        return net

    refit(model, s.seed)
    dense = _val_nmse(model, space)
    allowed = max(PRUNE_TOLERANCE * dense, EXACT_NMSE)
    if s.lamb <= 0:
        return _prune_checked(model, space, s, allowed, refit) or refit(model, s.seed + 2)
    # a sparsification strong enough to separate the terms of a law can also erase a
    # small genuine one (the relativistic factor beside a mass: 1 % of the variance in
    # the log space). When no pruned network keeps the accuracy and the sparsified
    # network itself is far off, try ten times weaker; not when only pruning lost it,
    # since a retry costs three training stages of the budget.
    for k, lamb in enumerate((s.lamb, s.lamb / 10)):
        sparse = copy.deepcopy(model) if k == 0 else model  # the retry starts from the dense network
        fit(sparse, X, y, steps=steps, lamb=lamb, update_grid_every=10 if grid else None, seed=s.seed + 1,
            callbacks=stop)
        pruned = _prune_checked(sparse, space, s, allowed, refit)
        if pruned is not None:
            return pruned
        erased = _val_nmse(sparse, space) > SPARSIFY_TOLERANCE * allowed
        log.info("no pruned network of %s sparsified with lamb=%g kept the held-out accuracy%s", width, lamb,
                 " (the sparsification erased it)" if erased else "")
        if not erased or _time_left(s.deadline) <= 0:
            break
    return refit(sparse, s.seed + 2)


def _prune_checked(model, space, s: SearchSettings, allowed: float, refit):
    """Prune ``model`` and refit; the result if its held-out loss is within ``allowed``
    (thresholds as set, then ten times lower), else None. Past the deadline the first
    pruned network is returned unchecked."""
    from .pruning import prune

    for factor in (1.0, 0.1):
        pruned = refit(prune(model, space.X, node_th=s.node_th * factor, edge_th=s.edge_th * factor), s.seed + 2)
        if _val_nmse(pruned, space) <= allowed or _time_left(s.deadline) <= 0:
            return pruned
        log.info("pruning %s to %s (thresholds x%g) lost accuracy on held-out rows", model.width, pruned.width,
                 factor)
    return None


#: what a snap or a formula's assembly may raise on an awkward network (sympy raises
#: TypeError for a complex intermediate such as a negative base to a fractional power):
#: the search skips that formula instead of ending the fit
_ASSEMBLY_ERRORS = (ValueError, RuntimeError, TypeError, ArithmeticError)


def _skipped(err: Exception, what: str) -> str:
    """Log a failed step the search skips (traceback at DEBUG); return its description."""
    error = f"{type(err).__name__}: {err}"
    log.warning("%s failed: %s", what, error, exc_info=log.isEnabledFor(logging.DEBUG))
    return error


def _snap(model, space, weights, settings, names, X_user, y_user, Xv_user, yv_user):
    """Formulas of one trained network in the user's units, each with its held-out loss.

    One snap per complexity weight in ``weights``; with a deadline, weights not started
    before it are skipped (the first always runs). X_user, y_user: training rows (for the
    log space's constant refit); Xv_user, yv_user: held-out rows (the loss)."""
    from .symbolic import formula_candidates

    found, error = {}, None
    for k, weight in enumerate(weights):
        if k and _time_left(settings.deadline) <= 0:
            log.info("time budget spent; skipping complexity weights %s", tuple(weights[k:]))
            break
        try:
            for f in formula_candidates(model, space.X, space.y, complexity_weights=(weight,), names=names,
                                        input_transform=space.input_transform,
                                        output_transform=space.output_transform,
                                        functions=space_functions(settings.functions, space.name),
                                        deadline=settings.deadline):
                # past the deadline each mapped formula still gets a short constant snap
                limit = 10.0 if settings.deadline is None else min(10.0, max(1.0, _time_left(settings.deadline)))
                try:
                    f = to_user_formula(f, space, X_user, y_user, timeout=min(3.0, limit), snap_time_limit=limit)
                except _ASSEMBLY_ERRORS as err:  # one formula that cannot be mapped: skip it
                    error = _skipped(err, f"mapping {f} from the {space.name} space")
                    continue
                if f is not None:
                    found.setdefault(str(f.expr), f)
        except _ASSEMBLY_ERRORS as err:  # a snap that cannot be assembled: keep going
            error = _skipped(err, f"snapping {model.width} at complexity weight {weight:g}")
    formulas = list(found.values())
    for f in formulas:
        with np.errstate(all="ignore"):
            f.loss = finite_mse(f.evaluate(Xv_user), yv_user)
    return formulas, (error if not formulas else None)


def space_functions(functions, space_name: str):
    """Library names snapped in a space: the caller's choice if given; else the default
    library, plus in the log space the entries for factors of ratios and products
    (:data:`symkan.functions.library.LOG_SPACE_NAMES`)."""
    from .functions.library import LOG_SPACE_NAMES, default_functions

    if functions is not None:
        return functions
    return default_functions() + list(LOG_SPACE_NAMES) if space_name == "log" else None


def _first_weight(weights) -> tuple:
    """The weight snapped first: the middle one (the default trade-off)."""
    ordered = sorted(weights)
    return (ordered[len(ordered) // 2],)


def search(spaces: dict, settings: SearchSettings, names: list[str], X_user: np.ndarray, y_user: np.ndarray,
           Xv_user: np.ndarray, yv_user: np.ndarray, on_stage=None) -> list[Attempt]:
    """Run the pipeline for each (space, width) of ``settings.ladder``, in order.

    ``spaces``: name -> :class:`symkan.spaces.Space` (standardised training and held-out
    tensors); X_user, y_user / Xv_user, yv_user: the same training / held-out rows in the
    user's units, (n, d) and (n,). The formulas' ``loss`` is the held-out MSE there.
    ``on_stage(name)`` is called at each stage (progress reporting).

    Snapping costs more than training, so each network whose numeric held-out fit is
    decent (normalised loss below ``SNAP_NMSE``, or the last one tried) is snapped at one
    complexity weight; the search stops at the first formula that reproduces the
    held-out data to round-off or is far more accurate on it than its network
    (``STOP_FACTOR``), or when the budget is spent. Then the network behind the best
    formula is snapped at the other weights too, for the Pareto front.
    """
    var = float(np.var(yv_user)) or 1.0
    attempts: list[Attempt] = []
    ladder = [(rung[0], list(rung[1]), SEPARABLE in rung[2:]) for rung in settings.ladder]
    first = _first_weight(settings.complexity_weights)

    def snap(attempt, weights):
        if on_stage:
            on_stage(f"snap {attempt.space} {attempt.model.width}")
        t0 = time.perf_counter()
        formulas, error = _snap(attempt.model, spaces[attempt.space], weights, settings, names, X_user, y_user,
                                Xv_user, yv_user)
        attempt.formulas += [f for f in formulas if str(f.expr) not in {str(g.expr) for g in attempt.formulas}]
        attempt.error = attempt.error or error if not attempt.formulas else None
        attempt.seconds += time.perf_counter() - t0
        best = min((f.loss for f in attempt.formulas), default=math.inf) / var
        log.info("%s %s: best formula nmse %.3g, %.1f s in all", attempt.space, attempt.width, best,
                 attempt.seconds)
        return best

    for k, (space_name, width, separable) in enumerate(ladder):
        if attempts and _time_left(settings.deadline) <= 0:
            log.info("time budget spent; skipping %s %s", space_name, width)
            break
        space = spaces[space_name]
        if on_stage:
            on_stage(f"train {space_name} {width}")
        t0 = time.perf_counter()
        try:
            model = train_pruned(width, space, settings, separable)
        except FloatingPointError as err:  # diverged: record it and go on with the next rung
            log.warning("training %s %s diverged: %s", space_name, width, err)
            continue
        attempt = Attempt(width, model, [], _val_nmse(model, space), time.perf_counter() - t0, space=space_name)
        attempts.append(attempt)
        log.info("%s %s -> %s: numeric nmse %.3g after %.1f s", space_name, width, model.width,
                 attempt.numeric_nmse, attempt.seconds)
        last = k == len(ladder) - 1 or _time_left(settings.deadline) <= 0
        if attempt.numeric_nmse > SNAP_NMSE and not last:
            continue
        best = snap(attempt, first)
        # Done when a formula reproduces the held-out data to round-off, or beats the
        # network it came from by a wide margin (then it has found structure the network
        # only approximates: a wider network has nothing more to offer). A formula merely
        # as good as its network may be a smooth stand-in (x·exp(c·e^(−y²)) for
        # x/(1 + y²)), so the search goes on.
        if best < EXACT_NMSE or best <= STOP_FACTOR * attempt.numeric_nmse:
            break
    if not attempts:
        raise RuntimeError("training diverged for every architecture; check the data for outliers")
    snapped = [a for a in attempts if a.formulas]
    if not snapped:  # nothing decent: snap the best numeric fit anyway
        best_attempt = min(attempts, key=lambda a: a.numeric_nmse)
        snap(best_attempt, first)
        snapped = [best_attempt]
    # the Pareto front: the other complexity weights for the network of the best formula
    best_attempt = min(snapped, key=lambda a: min(f.loss for f in a.formulas) if a.formulas else math.inf)
    rest = tuple(w for w in settings.complexity_weights if w not in first)
    if rest and _time_left(settings.deadline) > 0:
        snap(best_attempt, rest)
    return attempts
