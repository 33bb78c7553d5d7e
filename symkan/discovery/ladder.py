"""The ladder of architectures a search tries, smallest first: one :class:`Rung` each.

A rung names the data space its network trains in (see :mod:`.spaces`), the network's
full KAN width and tags that change how it is trained (``SEPARABLE``). The ladder is
built here only, for the default search and for a user's own hidden layers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: tag of a separable product rung: factor j of its product node sees input j only,
#: and it starts from alternating least squares (see :mod:`.separable`)
SEPARABLE = "separable"


def _frozen(width):
    """A KAN width as nested tuples (hashable, immutable)."""
    return tuple(_frozen(w) for w in width) if isinstance(width, (list, tuple)) else int(width)


def _listed(width):
    """Nested tuples back to the nested lists KAN reports as its width."""
    return [_listed(w) for w in width] if isinstance(width, tuple) else width


@dataclass(frozen=True)
class Rung:
    """One architecture to try: ``space`` ("linear" or "log"), its full KAN ``width``
    (stored as nested tuples; :attr:`layers` gives lists) and ``tags``."""

    space: str
    width: tuple
    tags: frozenset = frozenset()

    def __post_init__(self):
        object.__setattr__(self, "width", _frozen(self.width))
        object.__setattr__(self, "tags", frozenset(self.tags))

    @property
    def layers(self) -> list:
        """The width as KAN takes and reports it, e.g. ``[2, [2, 1], 1]``."""
        return _listed(self.width)

    @property
    def separable(self) -> bool:
        return SEPARABLE in self.tags

    def __str__(self) -> str:
        return f"{self.space} {self.layers}"


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


def separable_width(n_inputs: int) -> list:
    """One product node of arity d whose factor j sees only input j (a ``SEPARABLE``
    rung): y = g(Π_j f_j(x_j)), a multiplicatively separable formula such as
    m·r·v·sin(θ) or p·cos(θ)/(4π·ε·r²)."""
    return [int(n_inputs), [0, [int(n_inputs)]], 1]


def build_width(n_inputs: int, hidden) -> list:
    """Full KAN width from a list of hidden node layers: ``[5]`` -> [d, 5, 1];
    ``[[5, 2]]`` (5 sum + 2 product nodes) -> [d, [5, 2], 1]; ``[5, 3]`` -> [d, 5, 3, 1].
    An int is shorthand for one layer of sum nodes."""
    if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
        hidden = [int(hidden)]
    if not isinstance(hidden, (list, tuple)) or not hidden:
        raise ValueError(f"hidden must be an int or a non-empty list of node layers, got {hidden!r}")
    return [int(n_inputs), *[list(h) if isinstance(h, tuple) else h for h in hidden], 1]


def build_ladder(n_inputs: int, *, log_space: bool, hidden=None, hidden_space: str = "linear") -> tuple:
    """The rungs to try, in order.

    With ``hidden`` (the user's hidden layers, see :func:`build_width`): that one network,
    in ``hidden_space``. Otherwise, with ``log_space`` (positive data) first the log
    space's cheapest network, ``[d, 1]`` (every product of powers); for d ≥ 2 the
    separable product (factors that are not powers, like sin θ); then the linear ladder
    of :func:`default_widths`, with the log space's ``[d, 2, 1]`` after its second rung:
    a power law times a factor of a ratio or product of inputs, g(v/c) or g(ħω/kT),
    whose edges snap to the log-space library entries. (Tried second, right after
    ``[d, 1]``, it won I.32.17 but cost I.8.14, I.26.2 and III.10.19 their 60 s budget
    on a check of 32 equations.)
    """
    if hidden is not None:
        return (Rung(hidden_space, build_width(n_inputs, hidden)),)
    d = int(n_inputs)
    linear = [Rung("linear", w) for w in default_widths(d)]
    ladder = [Rung("log", [d, 1])] if log_space else []
    if d >= 2:
        ladder.append(Rung("linear", separable_width(d), {SEPARABLE}))
    ladder += linear[:2] + ([Rung("log", [d, 2, 1])] if log_space else []) + linear[2:]
    return tuple(ladder)
