"""Pruning: remove unimportant hidden nodes, mask weak edges, drop unused inputs.

Every function returns a NEW model; the input model is never modified and no random
numbers are drawn. Hidden nodes and inputs are removed structurally
(``KANLayer.subset`` + ``KAN.from_layers``), so basis options, masks, symbolic edges,
dtype, device and the train/eval flag carry over. Edges are only masked.

What is exact and what is approximate
-------------------------------------
Removing a node or masking an edge deletes its contribution φ(x) from the sub-node it
feeds. With ``fold_constants=True`` (the default) the mean of that contribution over
the rows of ``X`` is added to the receiving sub-node's bias instead, so:

* if the removed contribution is constant on X (a node whose inputs were all pruned,
  an edge that learned a flat curve) the pruned model computes exactly the same
  function on X (up to float rounding);
* otherwise the change is the contribution's deviation from its mean — the best
  constant replacement in the least-squares sense on X. Low scores mean small
  deviations, hence a small change; a short refit removes the rest.

With ``fold_constants=False`` the pruned model equals the original with the same edges
masked (it computes the kept subgraph exactly).

Never empty
-----------
If a threshold would remove every hidden node of a layer (or every input, or every
alive edge of a layer), the best-scoring one is kept and a warning is logged on the
``symkan.pruning`` logger: a network that computes a constant is never returned silently.
"""
from __future__ import annotations

import copy
import logging
from typing import NamedTuple, Sequence

import torch

from .checks import check_choice, check_model_data, check_names, check_number, eval_mode
from .nn.kan import KAN, NodeSpec
from .scores import (EDGE_METHODS, NODE_METHODS, attribution_scores, subnode_owner, traced_edge_scores,
                     traced_input_importance, traced_node_scores)

log = logging.getLogger(__name__)


class InputPruneResult(NamedTuple):
    """What :func:`prune_inputs` returns; unpacks as ``model, kept, names``.

    ``model``: the smaller KAN taking ``len(kept)`` inputs; ``kept``: indices of the
    kept columns of the original X (ascending), so ``X[:, kept]`` feeds the new model;
    ``names``: the kept names (None when no names were given).
    """

    model: KAN
    kept: list[int]
    names: list[str] | None


# --- building blocks ---------------------------------------------------------------------------
def _rng_guard(model: KAN):
    """Restore the global RNG state after structural edits.

    The built-in bases and ``KANLayer.subset`` construct with private generators; this
    only protects against a user-registered basis whose constructor draws globally.
    """
    devices = sorted({p.device.index or 0 for p in model.parameters() if p.device.type == "cuda"})
    return torch.random.fork_rng(devices=devices)


def _rebuild(like: KAN, layers, specs) -> KAN:
    """KAN.from_layers plus what it does not carry: train/eval flag and requires_grad flags."""
    new = KAN.from_layers(list(layers), list(specs), like=like)
    new.train(like.training)
    flags = {name: p.requires_grad for name, p in like.named_parameters()}
    for name, p in new.named_parameters():
        if name in flags:
            p.requires_grad_(flags[name])
    return new


@torch.no_grad()
def _trace(model: KAN, X: torch.Tensor):
    with eval_mode(model):
        return model.trace(X)


def _keep_with_fallback(scores: torch.Tensor, threshold: float, what: str) -> list[int]:
    """Indices with score > threshold; the best one (with a warning) if none survive."""
    keep = torch.nonzero(scores > threshold).flatten().tolist()
    if not keep:
        best = int(torch.argmax(scores))
        log.warning("threshold %.3g would remove every %s; keeping the best one (index %d, score %.3g)",
                    threshold, what, best, float(scores[best]))
        keep = [best]
    return keep


@torch.no_grad()
def _remove_hidden(model: KAN, X: torch.Tensor, l: int, keep_nodes: list[int], fold: bool) -> KAN:
    """Remove the nodes of hidden node layer l that are not in ``keep_nodes`` (ascending)."""
    spec = model.specs[l]
    kept_set = set(keep_nodes)
    removed = [j for j in range(spec.n_nodes) if j not in kept_set]
    if not removed:
        return model
    layers = list(model.layers)
    if fold:  # constant part of the removed outgoing edges -> bias of the sub-nodes they feed
        acts = _trace(model, X).acts[l][:, :, removed]  # (batch, out_l, n_removed)
        layers[l].bias.add_(acts.mean(0).sum(1).to(layers[l].bias.dtype))
    owner = subnode_owner(spec).tolist()
    keep_sub = [o for o, j in enumerate(owner) if j in kept_set]
    layers[l - 1] = layers[l - 1].subset(keep_sub, range(layers[l - 1].in_features))
    layers[l] = layers[l].subset(range(layers[l].out_features), keep_nodes)
    arities = tuple(r for k, r in enumerate(spec.arities) if spec.n_sum + k in kept_set)
    n_sum = sum(1 for j in keep_nodes if j < spec.n_sum)
    specs = list(model.specs)
    specs[l] = NodeSpec(n_sum, arities)
    return _rebuild(model, layers, specs)


# --- public API --------------------------------------------------------------------------------
def prune(model: KAN, X, node_th: float = 1e-2, edge_th: float = 3e-2, method: str = "attribution", *,
          fold_constants: bool = True) -> KAN:
    """Remove weak hidden nodes, then mask weak edges; returns a new, smaller KAN.

    Args:
        model: the trained KAN (not modified).
        X: (batch, n_inputs) data the scores are measured on (typically the training X).
        node_th: a hidden node is kept when its node score exceeds this
            (see :func:`symkan.scores.node_scores`). Product nodes are kept or removed
            as a whole, with all their sub-nodes.
        edge_th: after node removal, an alive edge is kept when its score exceeds this
            (attribution scores for ``method="attribution"``, magnitudes |φ|₁ for
            ``method="inout"``).
        method: ``"attribution"`` (KAN 2.0 backward importance) or ``"inout"``
            (KAN paper: largest incoming and outgoing edge magnitudes).
        fold_constants: add the mean of every removed contribution to the receiving
            bias (see the module docstring for what is exact).

    After masking, hidden nodes left with no alive outgoing edges, or with no alive
    incoming edges (constant nodes, folded exactly), are removed too.

    Inputs and outputs are never removed here; use :func:`prune_inputs` for inputs.

    Returns: the pruned KAN; its :attr:`~symkan.nn.KAN.kept_nodes` lists, per node layer,
    the indices (into ``model``'s node layers) of the nodes it kept.
    """
    node_th = check_number("node_th", node_th)
    edge_th = check_number("edge_th", edge_th)
    check_choice("method", method, NODE_METHODS)
    X, _ = check_model_data(model, X, min_rows=2)
    scores = traced_node_scores(model, _trace(model, X), method)
    fold = bool(fold_constants)
    new = copy.deepcopy(model)
    kept = [list(range(s.n_nodes)) for s in model.specs]
    with _rng_guard(model):
        for l in range(1, len(model.specs) - 1):
            keep = _keep_with_fallback(scores[l], node_th, f"hidden node of layer {l}")
            new = _remove_hidden(new, X, l, keep, fold)
            kept[l] = [kept[l][j] for j in keep]
        edge_method = "attribution" if method == "attribution" else "magnitude"
        new = _mask_edges(new, X, edge_th, edge_method, fold, copy_model=False)
        new = _drop_dead_nodes(new, X, kept, fold)
    log.info("prune: hidden nodes %s -> %s, %d -> %d edges", [s.n_nodes for s in model.specs[1:-1]],
             [s.n_nodes for s in new.specs[1:-1]], model.n_edges(), new.n_edges())
    new.kept_nodes = kept
    return new


@torch.no_grad()
def _drop_dead_nodes(model: KAN, X: torch.Tensor, kept: list[list[int]], fold: bool) -> KAN:
    """Remove hidden nodes left without alive outgoing edges, or whose sub-nodes all lost
    their incoming edges (constant nodes: folding them is exact), until none is left.
    ``kept`` (original indices per node layer) is updated in place."""
    changed, warned = True, set()
    while changed:
        changed = False
        for l in range(1, len(model.specs) - 1):
            spec = model.specs[l]
            has_out = model.layers[l].mask.sum(0) > 0  # (n_nodes,)
            sub_in = (model.layers[l - 1].mask.sum(1) > 0).to(torch.float32)  # (n_subnodes,)
            owner = subnode_owner(spec).to(sub_in.device)
            has_in = sub_in.new_zeros(spec.n_nodes).scatter_reduce(0, owner, sub_in, reduce="amax") > 0
            alive = (has_out & has_in).cpu()
            if bool(alive.all()):
                continue
            keep = torch.nonzero(alive).flatten().tolist()
            if not keep:
                keep = [int(torch.argmax(attribution_scores(model, _trace(model, X))[1][l]))]
                if l not in warned:
                    log.warning("every hidden node of layer %d lost its edges; keeping one", l)
                    warned.add(l)
                if spec.n_nodes == 1:
                    continue
            model = _remove_hidden(model, X, l, keep, fold)
            kept[l][:] = [kept[l][j] for j in keep]
            changed = True
    return model


def prune_edges(model: KAN, X, threshold: float = 3e-2, method: str = "attribution", *,
                fold_constants: bool = True) -> KAN:
    """Mask every alive edge whose score is <= ``threshold``; returns a new KAN (same shape).

    ``method``: ``"attribution"`` or ``"magnitude"`` (see :func:`symkan.scores.edge_scores`).
    At least one edge per layer stays alive (the best one, with a logged warning).
    """
    threshold = check_number("threshold", threshold)
    check_choice("method", method, EDGE_METHODS)
    X, _ = check_model_data(model, X, min_rows=2)
    return _mask_edges(model, X, threshold, method, bool(fold_constants), copy_model=True)


@torch.no_grad()
def _mask_edges(model: KAN, X: torch.Tensor, threshold: float, method: str, fold: bool,
                copy_model: bool) -> KAN:
    tr = _trace(model, X)
    scores = traced_edge_scores(model, tr, method)
    new = copy.deepcopy(model) if copy_model else model
    n_masked = 0
    for l, layer in enumerate(new.layers):
        alive = layer.mask > 0
        drop = alive & (scores[l] <= threshold)
        if alive.any() and bool((drop == alive).all()):
            flat = torch.where(alive, scores[l], torch.full_like(scores[l], -1.0)).flatten()
            o, i = divmod(int(torch.argmax(flat)), layer.in_features)
            log.warning("edge threshold %.3g would mask every edge of layer %d; keeping edge (%d, %d, %d)",
                        threshold, l, l, i, o)
            drop[o, i] = False
        if not drop.any():
            continue
        if fold:  # re-trace: masking in earlier layers shifted this layer's inputs slightly
            acts = _trace(new, X).acts[l] if l > 0 else tr.acts[0]
            layer.bias.add_((acts.mean(0) * drop).sum(1).to(layer.bias.dtype))
        layer.mask.mul_((~drop).to(layer.mask.dtype))
        n_masked += int(drop.sum())
    log.info("prune_edges: masked %d edges (threshold %.3g, %s)", n_masked, threshold, method)
    new.kept_nodes = [list(range(s.n_nodes)) for s in new.specs]
    return new


def prune_inputs(model: KAN, X, threshold: float = 1e-2, names: Sequence[str] | None = None,
                 method: str = "attribution", *, fold_constants: bool = True) -> InputPruneResult:
    """Drop input variables the model does not use.

    Args:
        X: (batch, n_inputs) data the importances are measured on.
        threshold: an input is kept when its :func:`symkan.scores.input_importance`
            exceeds this.
        names: optional names of the n_inputs columns; the kept ones are returned.
        method: ``"attribution"`` or ``"magnitude"``.

    Returns: :class:`InputPruneResult` ``(model, kept, names)``; feed the new model
    ``X[:, kept]``. At least one input is kept (the best, with a logged warning).
    """
    threshold = check_number("threshold", threshold)
    check_choice("method", method, EDGE_METHODS)
    X, _ = check_model_data(model, X, min_rows=2)
    names = check_names(names, model.n_inputs, "names")
    tr = _trace(model, X)
    importance = traced_input_importance(model, tr, method)
    keep = _keep_with_fallback(importance, threshold, "input")
    removed = sorted(set(range(model.n_inputs)) - set(keep))
    new = copy.deepcopy(model)
    if removed:
        layers = list(new.layers)
        with torch.no_grad(), _rng_guard(model):
            if fold_constants:
                layers[0].bias.add_(tr.acts[0][:, :, removed].mean(0).sum(1).to(layers[0].bias.dtype))
            layers[0] = layers[0].subset(range(layers[0].out_features), keep)
        specs = [NodeSpec(len(keep))] + list(new.specs[1:])
        new = _rebuild(model, layers, specs)
        log.info("prune_inputs: kept inputs %s of %d", keep, model.n_inputs)
    new.kept_nodes = [list(keep)] + [list(range(s.n_nodes)) for s in new.specs[1:]]
    kept_names = [names[i] for i in keep] if names is not None else None
    return InputPruneResult(new, keep, kept_names)


__all__ = ["prune", "prune_edges", "prune_inputs", "InputPruneResult"]
