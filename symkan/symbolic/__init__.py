"""Symbolic snapping: batched edge fitting, auto-snap, formulas.

>>> result = auto_snap(model, X, y)            # snapped copy + choices + formula
>>> result.formula.sympy(), result.formula.latex()
>>> suggest(model, 0, 1, 0, X)                 # candidate table for edge (l=0, i=1, j=0)
>>> fix(model, 0, 1, 0, "sin", X); unfix(model, 0, 1, 0)
>>> model_formula(result.model, names=["x", "y"], X=X, y=y)

The function library the edges are snapped to lives below the network, in
:mod:`symkan.functions`. Every name here is imported on first use.
"""
from __future__ import annotations

import importlib

_LAZY = {
    "EdgeFits": "fitting", "fit_edges": "fitting", "fit_function": "fitting",
    "Candidate": "select", "Suggestions": "select", "selection_scores": "select",
    "EdgeChoice": "snap", "SnapResult": "snap", "auto_snap": "snap", "fix": "snap", "suggest": "snap",
    "unfix": "snap",
    "Formula": "formula", "expression_complexity": "formula", "model_formula": "network_formula",
    "formula_candidates": "candidates", "prune_terms": "candidates",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


__all__ = list(_LAZY)
