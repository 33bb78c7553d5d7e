"""Edge, node and input scores of a KAN, computed from activations on data the caller passes.

Two families of scores:

* ``"magnitude"`` — the KAN paper's edge L1 norm |φ_oi|₁ (see
  :func:`symkan.regularize.edge_magnitudes`): the spread of an edge's output relative
  to the spread of its input. Node scores by ``"inout"``: a hidden node's incoming
  score is its largest incoming magnitude (over all its sub-nodes for a product node),
  its outgoing score is its largest outgoing magnitude, and its node score is the
  smaller of the two — so "score > θ" is exactly the paper's rule "largest incoming
  and largest outgoing edge both exceed θ". Input nodes have only the outgoing part,
  output nodes only the incoming part.
* ``"attribution"`` — KAN 2.0 style importance propagated backward from the outputs.
  Each output node starts with importance 1/n_out (the mean over outputs of one-hot
  importances, so a layer's total is 1 for sum-only networks). A sum node hands its
  importance to its sub-node; a product node hands its *full* importance to each of
  its sub-nodes (every factor matters as much as the product). A sub-node o with
  importance B_o splits it over its incoming edges in proportion to their spread
  s_oi = mean_b |φ_oi − mean_b φ_oi| (unnormalised, so it measures contribution to
  the sub-node's variation): E_oi = B_o · s_oi / Σ_i s_oi. A node's importance is the
  sum of the importances of its outgoing edges, so a node feeding nothing scores 0.
  (pykan divides by the sub-node's standard deviation instead of Σ_i s_oi; that
  blows up when edges cancel, which the proportional split cannot.)

Every score is computed from ``KAN.trace``: pruned (masked) edges have zero
activation and so score 0; symbolic edges are scored from their symbolic activation.
The model is evaluated in eval mode (running statistics of pre-maps are not updated)
and is left exactly as it was.

Shapes: edges — one tensor per layer l, (out_l, in_l) with out_l the sub-nodes of node
layer l+1; nodes — one tensor per node layer l = 0..L, (n_nodes_l,).
"""
from __future__ import annotations

import contextlib

import torch

from .nn.kan import KAN
from .regularize import edge_magnitudes
from .validation import model_dtype_device, to_tensor_2d

EDGE_METHODS = ("attribution", "magnitude")
NODE_METHODS = ("attribution", "inout")


# --- helpers shared with prune.py / plot.py ----------------------------------------------------
@contextlib.contextmanager
def eval_mode(model: torch.nn.Module):
    """Run ``model`` in eval mode and restore every submodule's own ``training`` flag after."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, flag in flags:
            m.training = flag


def check_kan(model) -> None:
    if not isinstance(model, KAN):
        raise ValueError(f"model must be a symkan KAN, got {type(model).__name__}")


def check_X(model, X, name: str = "X") -> torch.Tensor:
    """Validate model and X (width, finiteness, >= 2 rows) -> X as a tensor on the model's dtype/device."""
    check_kan(model)
    dtype, device = model_dtype_device(model)
    return to_tensor_2d(X, name, n_features=model.n_inputs, dtype=dtype, device=device, min_rows=2)


def check_method(method, choices) -> str:
    if method not in choices:
        raise ValueError(f"method must be one of {list(choices)}, got {method!r}")
    return method


def subnode_owner(spec) -> torch.Tensor:
    """For a node layer spec: (n_subnodes,) long, the node each sub-node belongs to."""
    owner = list(range(spec.n_sum))
    for k, r in enumerate(spec.arities):
        owner += [spec.n_sum + k] * r
    return torch.tensor(owner, dtype=torch.long)


@torch.no_grad()
def trace(model, X):
    """Validated X -> ``model.trace(X)`` in eval mode without gradients. X: (batch, n_inputs)."""
    X = check_X(model, X)
    with eval_mode(model):
        return model.trace(X)


def _spread(acts: torch.Tensor) -> torch.Tensor:
    """acts: (batch, out, in) -> mean absolute deviation per edge (out, in)."""
    return (acts - acts.mean(0, keepdim=True)).abs().mean(0)


# --- scores from a trace (no validation; used internally) ---------------------------------------
def _magnitudes(tr) -> list[torch.Tensor]:
    return [edge_magnitudes(a, x) for a, x in zip(tr.acts, tr.inputs)]


def _attribution(model, tr) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Backward importance: (edge scores per layer (out_l, in_l), node scores per node layer)."""
    specs = model.specs
    out = tr.nodes[-1]
    node = out.new_full((specs[-1].n_nodes,), 1.0 / specs[-1].n_nodes)
    nodes = [node]
    edges = []
    for l in range(len(model.layers) - 1, -1, -1):
        owner = subnode_owner(specs[l + 1]).to(node.device)
        sub = node[owner]  # (out_l,): products pass their full importance to every factor
        s = _spread(tr.acts[l])  # (out_l, in_l)
        total = s.sum(1, keepdim=True)
        share = torch.where(total > 0, s / total.clamp_min(torch.finfo(s.dtype).tiny), torch.zeros_like(s))
        e = share * sub[:, None]
        edges.append(e)
        node = e.sum(0)  # (in_l,)
        nodes.append(node)
    return edges[::-1], nodes[::-1]


def _inout(model, mags: list[torch.Tensor]) -> list[torch.Tensor]:
    """Node scores min(max incoming, max outgoing magnitude); one-sided at inputs/outputs."""
    scores = []
    n_layers = len(model.layers)
    for l, spec in enumerate(model.specs):
        parts = []
        if l > 0:  # incoming: max over the edges into any of the node's sub-nodes
            m = mags[l - 1].max(1).values  # (n_subnodes,)
            owner = subnode_owner(spec).to(m.device)
            inc = m.new_zeros(spec.n_nodes).scatter_reduce(0, owner, m, reduce="amax", include_self=True)
            parts.append(inc)
        if l < n_layers:
            parts.append(mags[l].max(0).values)  # (n_nodes,)
        scores.append(parts[0] if len(parts) == 1 else torch.minimum(parts[0], parts[1]))
    return scores


# --- public API ----------------------------------------------------------------------------------
@torch.no_grad()
def edge_scores(model, X, method: str = "attribution") -> list[torch.Tensor]:
    """Per-edge scores, one tensor (out_l, in_l) per layer.

    Args:
        model: a :class:`symkan.KAN`.
        X: (batch, n_inputs) data the scores are measured on (at least 2 rows).
        method: ``"attribution"`` (importance propagated back from the outputs) or
            ``"magnitude"`` (the KAN paper's normalised L1 norm |φ|₁).
    """
    check_method(method, EDGE_METHODS)
    tr = trace(model, X)
    if method == "magnitude":
        return _magnitudes(tr)
    return _attribution(model, tr)[0]


@torch.no_grad()
def node_scores(model, X, method: str = "attribution") -> list[torch.Tensor]:
    """Per-node scores, one tensor (n_nodes_l,) per node layer l = 0 (inputs) .. L (outputs).

    ``"attribution"``: backward importance (outputs score 1/n_out each). ``"inout"``:
    min(largest incoming, largest outgoing edge magnitude); a hidden node survives the
    KAN paper's rule with threshold θ exactly when its score exceeds θ.
    """
    check_method(method, NODE_METHODS)
    tr = trace(model, X)
    if method == "inout":
        return _inout(model, _magnitudes(tr))
    return _attribution(model, tr)[1]


@torch.no_grad()
def input_importance(model, X, method: str = "attribution") -> torch.Tensor:
    """(n_inputs,) importance of each input feature.

    ``"attribution"``: the backward importance reaching each input (sums to 1 in
    sum-only networks with one output). ``"magnitude"``: the largest magnitude among
    the input's outgoing edges.
    """
    check_method(method, EDGE_METHODS)
    tr = trace(model, X)
    if method == "magnitude":
        return _magnitudes(tr)[0].max(0).values
    return _attribution(model, tr)[1][0]


__all__ = ["edge_scores", "node_scores", "input_importance"]
