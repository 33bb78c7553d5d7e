"""Pairs of inputs a law sees only through their difference, sum, ratio or product, read
off an oracle.

f depends on x_i and x_j only through x_i − x_j exactly when moving both by the same step
leaves it unchanged (AI Feynman's translational symmetry test): (x₂ − x₁)² + (y₂ − y₁)²,
cos(θ₁ − θ₂), the temperatures of T₂ − T₁. It depends on x_i + x_j when opposite steps
leave it unchanged; through x_i/x_j or x_i·x_j (positive inputs) when equal or opposite
relative steps do (cos(ω·t) beside other inputs). Each pair is tested on held-out rows with the oracle's values (a
trained network), the change relative to a step of x_i alone; the pairs that pass, best
first and disjoint, become one input each, so the smaller problem has one input fewer
per pair.
"""
from __future__ import annotations

import logging
from itertools import combinations

import numpy as np

from .sampling import evenly_spaced

log = logging.getLogger(__name__)

#: a pair is symmetric when the joint step changes f this little, relative to a step of one input
SYMMETRY_TOL = 0.02
#: the step, as a fraction of the smaller of the two inputs' spreads
STEP = 0.05
#: rows the test uses
ROWS = 200


def pair_changes(f, X_val: np.ndarray, inputs: list) -> dict:
    """{(i, j, kind): change} for the pairs of ``inputs``, kind "difference" (equal
    steps), "sum" (opposite steps), and for positive columns "ratio" and "product" (equal
    and opposite relative steps): the median change of f relative to a step of x_i
    alone, on rows of X_val (m, d); steps go toward the middle of the data so that the
    oracle stays inside it."""
    rows = X_val[evenly_spaced(len(X_val), ROWS)]
    with np.errstate(all="ignore"):
        F = f(rows)
    middle, spread = np.median(X_val, axis=0), np.std(X_val, axis=0)
    out = {}
    for i, j in combinations(inputs, 2):
        h = STEP * min(spread[i], spread[j])
        if h <= 0:
            continue
        toward = np.where(rows[:, i] < middle[i], 1.0, -1.0) * h
        alone = rows.copy()
        alone[:, i] += toward
        with np.errstate(all="ignore"):
            reference = float(np.median(np.abs(f(alone) - F)))
        if not reference > 1e-6 * float(np.std(F)):  # f barely depends on x_i: nothing to tell
            continue
        for kind, sign in (("difference", 1.0), ("sum", -1.0)):
            moved = alone.copy()
            moved[:, j] += sign * toward
            out[(i, j, kind)] = _change(f, moved, F, reference)
        if np.all(rows[:, [i, j]] > 0):  # the same in log x: x_i/x_j and x_i·x_j
            factor = 1 + toward / rows[:, i]
            alone = rows.copy()
            alone[:, i] *= factor
            with np.errstate(all="ignore"):
                reference = float(np.median(np.abs(f(alone) - F)))
            if not reference > 1e-6 * float(np.std(F)):
                continue
            for kind, power in (("ratio", 1.0), ("product", -1.0)):
                moved = alone.copy()
                moved[:, j] *= factor ** power
                out[(i, j, kind)] = _change(f, moved, F, reference)
    return out


def _change(f, moved: np.ndarray, F: np.ndarray, reference: float) -> float:
    """The median change of f from F at the rows ``moved``, relative to ``reference``."""
    with np.errstate(all="ignore"):
        change = float(np.median(np.abs(f(moved) - F))) / reference
    return change if np.isfinite(change) else np.inf


def symmetric_pairs(f, X_val: np.ndarray, inputs: list) -> list:
    """[(i, j, kind)]: disjoint pairs of ``inputs`` that ``f`` sees only through
    x_i − x_j ("difference"), x_i + x_j ("sum"), x_i/x_j ("ratio") or x_i·x_j
    ("product"), the clearest first."""
    changes = pair_changes(f, X_val, inputs)
    chosen, used = [], set()
    for (i, j, kind), change in sorted(changes.items(), key=lambda item: item[1]):
        if change >= SYMMETRY_TOL:
            break
        if i in used or j in used:
            continue
        chosen.append((i, j, kind))
        used |= {i, j}
    if chosen:
        log.info("symmetric pairs: %s", ", ".join(f"{i},{j} {k} {changes[(i, j, k)]:.2g}" for i, j, k in chosen))
    return chosen


def reduced_inputs(pairs: list, inputs: list, symbols: list) -> list:
    """The inputs of the smaller problem as sympy expressions of ``symbols``: one per
    pair (x_i − x_j, x_i + x_j, x_i/x_j or x_i·x_j), then the ``inputs`` in no pair."""
    paired = {k for i, j, _ in pairs for k in (i, j)}
    join = {"difference": lambda a, b: a - b, "sum": lambda a, b: a + b, "ratio": lambda a, b: a / b,
            "product": lambda a, b: a * b}
    joined = [join[kind](symbols[i], symbols[j]) for i, j, kind in pairs]
    return joined + [symbols[k] for k in inputs if k not in paired]
