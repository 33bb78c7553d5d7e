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

import torch

from .checks import check_choice, check_model_data, eval_mode
from .regularize import edge_magnitudes

EDGE_METHODS = ("attribution", "magnitude")
NODE_METHODS = ("attribution", "inout")


def subnode_owner(spec) -> torch.Tensor:
    """For a node layer spec: (n_subnodes,) long, the node each sub-node belongs to."""
    owner = list(range(spec.n_sum))
    for k, r in enumerate(spec.arities):
        owner += [spec.n_sum + k] * r
    return torch.tensor(owner, dtype=torch.long)


@torch.no_grad()
def trace(model, X):
    """Validated X -> ``model.trace(X)`` in eval mode without gradients. X: (batch, n_inputs)."""
    X, _ = check_model_data(model, X, min_rows=2)
    with eval_mode(model):
        return model.trace(X)


def _spread(acts: torch.Tensor) -> torch.Tensor:
    """acts: (batch, out, in) -> mean absolute deviation per edge (out, in)."""
    return (acts - acts.mean(0, keepdim=True)).abs().mean(0)


# --- scores from a trace (no validation; for pruning and plots) --------------------------------
def magnitude_scores(tr) -> list[torch.Tensor]:
    """Edge magnitudes |φ|₁ per layer, (out_l, in_l), from a ``KAN.trace``."""
    return [edge_magnitudes(a, x) for a, x in zip(tr.acts, tr.inputs)]


def attribution_scores(model, tr) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
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


def inout_scores(model, mags: list[torch.Tensor]) -> list[torch.Tensor]:
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


def traced_edge_scores(model, tr, method: str) -> list[torch.Tensor]:
    """:func:`edge_scores` from a trace (``method`` not checked)."""
    return magnitude_scores(tr) if method == "magnitude" else attribution_scores(model, tr)[0]


def traced_node_scores(model, tr, method: str) -> list[torch.Tensor]:
    """:func:`node_scores` from a trace (``method`` not checked)."""
    return inout_scores(model, magnitude_scores(tr)) if method == "inout" else attribution_scores(model, tr)[1]


def traced_input_importance(model, tr, method: str) -> torch.Tensor:
    """:func:`input_importance` from a trace (``method`` not checked)."""
    return magnitude_scores(tr)[0].max(0).values if method == "magnitude" else attribution_scores(model, tr)[1][0]


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
    check_choice("method", method, EDGE_METHODS)
    return traced_edge_scores(model, trace(model, X), method)


@torch.no_grad()
def node_scores(model, X, method: str = "attribution") -> list[torch.Tensor]:
    """Per-node scores, one tensor (n_nodes_l,) per node layer l = 0 (inputs) .. L (outputs).

    ``"attribution"``: backward importance (outputs score 1/n_out each). ``"inout"``:
    min(largest incoming, largest outgoing edge magnitude); a hidden node survives the
    KAN paper's rule with threshold θ exactly when its score exceeds θ.
    """
    check_choice("method", method, NODE_METHODS)
    return traced_node_scores(model, trace(model, X), method)


@torch.no_grad()
def input_importance(model, X, method: str = "attribution") -> torch.Tensor:
    """(n_inputs,) importance of each input feature.

    ``"attribution"``: the backward importance reaching each input (sums to 1 in
    sum-only networks with one output). ``"magnitude"``: the largest magnitude among
    the input's outgoing edges.
    """
    check_choice("method", method, EDGE_METHODS)
    return traced_input_importance(model, trace(model, X), method)


__all__ = ["edge_scores", "node_scores", "input_importance"]
