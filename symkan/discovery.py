"""The staged discovery pipeline behind :class:`symkan.SymKANRegressor`.

For each candidate architecture (smallest first):

    train → sparsify (L1 + entropy) → prune → refit → snap at several complexity
    weights → joint refit of the constants → formulas in the user's units

Every formula is scored on held-out rows; the caller keeps the Pareto front. The
search stops early once a formula reproduces the held-out data to round-off, or
explains it far better than the network it was read from, or when the time budget is
spent.

All arrays here are already standardised ("network units"); the transforms that map
them back to the user's units are passed along so that formulas come out in the
user's variables.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .nn import KAN
from .train import fit

log = logging.getLogger(__name__)

#: normalised held-out loss (1 − R²) below which a formula counts as exact and the
#: architecture search stops
EXACT_NMSE = 1e-9
#: stop the search when a formula's held-out nmse is below this fraction of its network's
STOP_FACTOR = 1e-2
#: numeric held-out nmse (1 − R²) below which a trained network is worth snapping
SNAP_NMSE = 1e-2


@dataclass
class SearchSettings:
    """Knobs of one discovery run (the regressor fills them from its parameters)."""

    basis: str = "bspline"
    basis_options: dict = field(default_factory=dict)
    widths: list = field(default_factory=list)  # full KAN widths to try, in order
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


def default_widths(n_inputs: int) -> list:
    """Full KAN widths tried when the user gives none, smallest first.

    1. ``[d, 1, 1]``: one hidden sum node and an outer function, g(Σ_i f_i(x_i)) —
       additive and generalised-additive formulas (exp(sin(πx) + y²), √(x² + y²), ...);
    2. ``[d, [d, m], 1]``: sum nodes plus m product nodes of two sub-nodes (x·y,
       x·sin(y), sums of such terms), pruned back to what the data need;
    3. ``[d, d, [0, [2]]]``: the output is the product of two functions of sums,
       f(Σ ...)·g(Σ ...) — ratios such as x/(1 + y²);
    4. ``[d, [2d + 1, m], 1]``: the Kolmogorov–Arnold width with product nodes, for
       what the first three miss.
    """
    d = int(n_inputs)
    if d == 1:
        return [[1, 1, 1], [1, 3, 1]]
    m = min(d - 1, 3)
    return [[d, 1, 1], [d, [d, m], 1], [d, d, [0, [2]]], [d, [2 * d + 1, m], 1]]


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


def train_pruned(width, X: torch.Tensor, y: torch.Tensor, s: SearchSettings) -> KAN:
    """Train → sparsify → prune → refit one architecture. X, y in network units.

    With a deadline, each stage stops early once it passes (the sparsify and refit
    stages are skipped when it has already passed), so one architecture overruns the
    budget by at most one optimiser step plus pruning.
    """
    from .pruning import prune

    model = KAN(width, basis=s.basis, seed=s.seed, **s.basis_options)
    grid = model.supports_grid_update
    steps = int(s.steps)
    stop = [_deadline_callback(s.deadline)] if s.deadline is not None else []
    fit(model, X, y, steps=steps, update_grid_every=5 if grid else None, seed=s.seed, callbacks=stop)
    if s.lamb > 0 and _time_left(s.deadline) > 0:
        fit(model, X, y, steps=steps, lamb=s.lamb, update_grid_every=10 if grid else None, seed=s.seed + 1,
            callbacks=stop)
    model = prune(model, X, node_th=s.node_th, edge_th=s.edge_th)
    if _time_left(s.deadline) > 0:
        fit(model, X, y, steps=steps, update_grid_every=5 if grid else None, seed=s.seed + 2, callbacks=stop)
    return model


def _snap(model, X, y, settings, names, input_transform, output_transform, Xv_user, yv_user):
    """Formulas of one trained network, each with its held-out loss (user units).

    One snap per complexity weight; with a deadline, weights not started before it are
    skipped (the first always runs)."""
    from .symbolic import formula_candidates

    found, error = {}, None
    for k, weight in enumerate(settings.complexity_weights):
        if k and _time_left(settings.deadline) <= 0:
            log.info("time budget spent; skipping complexity weights %s", settings.complexity_weights[k:])
            break
        try:
            for f in formula_candidates(model, X, y, complexity_weights=(weight,), names=names,
                                        input_transform=input_transform, output_transform=output_transform,
                                        functions=settings.functions):
                found.setdefault(str(f.expr), f)
        except (ValueError, RuntimeError) as err:  # a snap that cannot be assembled: keep going
            log.warning("snapping %s at complexity weight %g failed: %s", model.width, weight, err)
            error = str(err)
    formulas = list(found.values())
    for f in formulas:
        pred = f.evaluate(Xv_user)
        f.loss = float(np.mean((pred - yv_user) ** 2)) if np.all(np.isfinite(pred)) else math.inf
    return formulas, (error if not formulas else None)


def search(X: torch.Tensor, y: torch.Tensor, X_val: torch.Tensor, y_val: torch.Tensor, settings: SearchSettings,
           names: list[str], input_transform, output_transform, on_stage=None) -> list[Attempt]:
    """Run the pipeline for the architectures in ``settings.widths``, smallest first.

    X, y: (n, d), (n, 1) training rows; X_val, y_val: held-out rows — all in network
    units. The formulas' ``loss`` is the held-out MSE in the user's units.
    ``on_stage(name)`` is called at each stage (progress reporting).

    A network is snapped when its numeric held-out fit is decent (normalised loss below
    ``SNAP_NMSE``) or when it is the last one tried; the search stops at the first
    formula that reproduces the held-out data to round-off or is far more accurate on it
    than its network (``STOP_FACTOR``), or when the budget is spent.
    """
    from .symbolic.formula import to_user_units

    Xv_user, yv_user = to_user_units(X_val, y_val, input_transform, output_transform)
    yv_user = yv_user[:, 0]
    var = float(np.var(yv_user)) or 1.0
    attempts: list[Attempt] = []
    for k, width in enumerate(settings.widths):
        if attempts and _time_left(settings.deadline) <= 0:
            log.info("time budget spent; skipping architecture %s", width)
            break
        width = list(width)
        if on_stage:
            on_stage(f"train {width}")
        t0 = time.perf_counter()
        model = train_pruned(width, X, y, settings)
        with torch.no_grad():
            pred = model(X_val.to(next(model.parameters()).dtype)).double().numpy()[:, 0]
        attempt = Attempt(width, model, [], _nmse(pred, y_val.double().numpy()[:, 0]), time.perf_counter() - t0)
        attempts.append(attempt)
        log.info("architecture %s -> %s: numeric nmse %.3g after %.1f s", width, model.width,
                 attempt.numeric_nmse, attempt.seconds)
        last = k == len(settings.widths) - 1 or _time_left(settings.deadline) <= 0
        if attempt.numeric_nmse > SNAP_NMSE and not last:
            continue
        if on_stage:
            on_stage(f"snap {model.width}")
        t0 = time.perf_counter()
        attempt.formulas, attempt.error = _snap(model, X, y, settings, names, input_transform, output_transform,
                                                Xv_user, yv_user)
        attempt.seconds += time.perf_counter() - t0
        best = min((f.loss for f in attempt.formulas), default=math.inf) / var
        log.info("architecture %s: best formula nmse %.3g, %.1f s in all", width, best, attempt.seconds)
        # Done when a formula reproduces the held-out data to round-off, or beats the
        # network it came from by a wide margin (then it has found structure the network
        # only approximates: a wider network has nothing more to offer). A formula merely
        # as good as its network may be a smooth stand-in (x·exp(c·e^(−y²)) for
        # x/(1 + y²)), so the search goes on.
        if best < EXACT_NMSE or best <= STOP_FACTOR * attempt.numeric_nmse:
            break
    if not any(a.formulas for a in attempts):  # nothing decent: snap the best numeric fit anyway
        attempt = min(attempts, key=lambda a: a.numeric_nmse)
        attempt.formulas, attempt.error = _snap(attempt.model, X, y, settings, names, input_transform,
                                                output_transform, Xv_user, yv_user)
    return attempts
