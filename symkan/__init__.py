"""symkan: interpretable symbolic regression with Kolmogorov-Arnold Networks.

Heavy submodules are imported on first attribute access so ``import symkan`` stays fast.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "KAN": "symkan.nn",
    "KANLayer": "symkan.nn",
    "fit": "symkan.train",
    "History": "symkan.train",
    "SymKANRegressor": "symkan.regressor",
    "discover_many": "symkan.many",
    "available_bases": "symkan.bases",
    "register_basis": "symkan.bases",
    "register_function": "symkan.functions",
    # scores, pruning, diagrams
    "edge_scores": "symkan.scores",
    "node_scores": "symkan.scores",
    "input_importance": "symkan.scores",
    "prune": "symkan.pruning",
    "prune_inputs": "symkan.pruning",
    "prune_edges": "symkan.pruning",
    "plot_network": "symkan.plot",
    "to_networkx": "symkan.plot",
    # KAN convolutions (deep models)
    "KANConv1d": "symkan.nn",
    "KANConv2d": "symkan.nn",
    "KANConv3d": "symkan.nn",
    "BottleneckKANConv1d": "symkan.nn",
    "BottleneckKANConv2d": "symkan.nn",
    "BottleneckKANConv3d": "symkan.nn",
    "plot_conv_functions": "symkan.conv_plot",
    "conv_edge_scores": "symkan.conv_scores",
    "conv_channel_scores": "symkan.conv_scores",
    "prune_conv_channels": "symkan.conv_scores",
    # symbolic snapping
    "auto_snap": "symkan.symbolic",
    "fix": "symkan.symbolic",
    "unfix": "symkan.symbolic",
    "suggest": "symkan.symbolic",
    "Formula": "symkan.symbolic",
    "model_formula": "symkan.symbolic",
    # data and evaluation
    "make_dataset": "symkan.datasets",
    "feynman_equations": "symkan.datasets",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'symkan' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


__all__ = list(_LAZY) + ["__version__"]
