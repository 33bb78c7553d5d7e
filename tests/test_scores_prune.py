"""Scores and pruning: semantics, exactness on the kept subgraph, product nodes, bad input."""
from __future__ import annotations

import copy
import logging
import math

import pytest
import torch

from symkan import KAN, fit
from symkan.pruning import InputPruneResult, prune, prune_edges, prune_inputs
from symkan.regularize import edge_magnitudes
from symkan.scores import edge_scores, input_importance, node_scores, subnode_owner
from symkan.train import rmse


def _data(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=g) * 2 - 1


def _weaken_node(model, l, j, factor=1e-4):
    """Scale the outgoing edges of node j in node layer l (numeric part) by ``factor``."""
    layer = model.layers[l]
    with torch.no_grad():
        layer.basis.coef[:, j] *= factor
        layer.base_weight[:, j] *= factor


def _state(model):
    return {k: v.clone() if torch.is_tensor(v) else copy.deepcopy(v) for k, v in model.state_dict().items()}


def _same_state(a, b):
    return a.keys() == b.keys() and all(
        torch.equal(a[k], b[k]) if torch.is_tensor(a[k]) else a[k] == b[k] for k in a)


def _masked_copy(model, pruned, kept):
    """The original with edges of removed nodes masked and the pruned model's masks copied
    onto the kept edges. ``kept[l]``: kept node indices of node layer l (all layers)."""
    ref = copy.deepcopy(model)
    for l, layer in enumerate(ref.layers):
        owner = subnode_owner(model.specs[l + 1]).tolist()
        kept_sub = [o for o, j in enumerate(owner) if j in set(kept[l + 1])]
        new_mask = torch.zeros_like(layer.mask)
        sub_mask = pruned.layers[l].mask
        for a, o in enumerate(kept_sub):
            for b, i in enumerate(kept[l]):
                new_mask[o, i] = sub_mask[a, b]
        with torch.no_grad():
            layer.mask.copy_(new_mask)
    return ref


# --- the worked example -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_exp_sin():
    """A [2, 5, 1] trained with sparsification on exp(sin(πx) + y²) (trained once per module):
    (model, Xtr, ytr, Xte, yte). Tests must not modify the model."""
    g = torch.Generator().manual_seed(0)
    X = torch.rand(2000, 2, generator=g) * 2 - 1
    y = torch.exp(torch.sin(math.pi * X[:, 0]) + X[:, 1] ** 2)
    model = KAN([2, 5, 1], seed=0)
    fit(model, X[:1000], y[:1000], steps=20, lamb=1e-2, update_grid_every=5)
    return model, X[:1000], y[:1000], X[1000:], y[1000:]


@pytest.mark.slow
def test_prune_trained_exp_sin_refits_to_low_error(trained_exp_sin):
    model, Xtr, ytr, Xte, yte = trained_exp_sin
    before = _state(model)
    rng = torch.random.get_rng_state()
    small = prune(model, Xtr)
    assert torch.equal(rng, torch.random.get_rng_state())
    assert _same_state(before, _state(model)), "prune modified its input model"
    assert small.specs[1].n_nodes <= 2
    assert small.width[0] == 2 and small.width[-1] == 1
    fit(small, Xtr, ytr, steps=10)
    assert rmse(small, Xte, yte) < 2e-2


def _node_pruned_by_hand(model, keep):
    """[n_in, n_hidden, n_out] sum-only model -> the same model with only hidden nodes ``keep``,
    built directly from ``KANLayer.subset`` (no pruning code involved)."""
    from symkan.nn.kan import NodeSpec
    m = copy.deepcopy(model)
    layers = [m.layers[0].subset(keep, range(m.layers[0].in_features)),
              m.layers[1].subset(range(m.layers[1].out_features), keep)]
    specs = [m.specs[0], NodeSpec(len(keep)), m.specs[2]]
    return KAN.from_layers(layers, specs, like=m)


@pytest.mark.slow
@pytest.mark.parametrize("edge_th", ["default", "at_a_score"])
def test_trained_prune_masks_exactly_low_score_edges_and_equals_masked_original(trained_exp_sin, edge_th):
    """On the trained, sparsified worked example (not a hand-weakened net): with
    fold_constants=False the pruned model IS the original with the removed nodes' edges and
    the masked edges switched off, and the masked edges are exactly those whose
    attribution score (symkan.scores, on the node-pruned network) is <= edge_th."""
    model, X, _, _, _ = trained_exp_sin
    node_th = 1e-2
    hidden = node_scores(model, X)[1]
    keep = torch.nonzero(hidden > node_th).flatten().tolist()
    assert 1 <= len(keep) < 5, "the trained network should have prunable nodes"
    scores = edge_scores(_node_pruned_by_hand(model, keep), X)  # what step 2 of prune sees
    if edge_th == "default":
        th = 3e-2
    else:  # exactly the score of the weaker of the two strong y-edges: "at" must mask it
        th = float(scores[0][:, 1].max())
    pruned = prune(model, X, node_th=node_th, edge_th=th, fold_constants=False)
    # expected masks, in the node-pruned indexing; then the nodes left without edges go
    expected = [(s > th).to(torch.float32) for s in scores]
    n_masked = sum(int((e == 0).sum()) for e in expected)
    if edge_th == "at_a_score":
        assert n_masked >= 1 and bool((expected[0] > 0).any())  # some masked, some kept
        assert any(bool((s == th).any()) for s in scores)  # the boundary case is present
    has_in = expected[0].sum(1) > 0
    has_out = expected[1].sum(0) > 0
    live = [keep[a] for a in range(len(keep)) if bool(has_in[a] & has_out[a])]
    assert pruned.kept_nodes == [[0, 1], live, [0]]
    rows = [a for a in range(len(keep)) if keep[a] in live]
    assert torch.equal(pruned.layers[0].mask, expected[0][rows])
    assert torch.equal(pruned.layers[1].mask, expected[1][:, rows])
    # function: the original with everything removed masked out (no constants folded)
    ref = _masked_copy(model, pruned, pruned.kept_nodes)
    assert ref.n_edges() == pruned.n_edges() < model.n_edges()
    with torch.no_grad():
        torch.testing.assert_close(pruned(X), ref(X), rtol=1e-5, atol=1e-6)
        # and it is not trivially equal to the original: the removed parts carried something
        assert (model(X) - ref(X)).abs().max() > 0


# --- exactness on the kept part ---------------------------------------------------------------
@pytest.mark.parametrize("method", ["attribution", "inout"])
def test_pruned_equals_masked_original(method):
    X = _data(300, 3)
    model = KAN([3, 6, 2], seed=1)
    for j in (1, 4):
        _weaken_node(model, 1, j)
    with torch.no_grad():
        model.layers[0].mask[2, 0] = 0.0  # an edge pruned earlier
    node_th, edge_th = 1e-2, 3e-2
    scores = node_scores(model, X, method=method)
    kept_hidden = torch.nonzero(scores[1] > node_th).flatten().tolist()
    assert 1 not in kept_hidden and 4 not in kept_hidden
    pruned = prune(model, X, node_th=node_th, edge_th=edge_th, method=method, fold_constants=False)
    kept = pruned.kept_nodes
    assert kept[0] == [0, 1, 2] and kept[2] == [0, 1]
    assert set(kept[1]) <= set(kept_hidden) and len(kept[1]) >= 3
    assert pruned.width == [3, len(kept[1]), 2]
    assert pruned.n_edges() < model.n_edges()
    ref = _masked_copy(model, pruned, kept)
    with torch.no_grad():
        torch.testing.assert_close(pruned(X), ref(X), rtol=1e-5, atol=1e-6)


def test_fold_constants_is_exact_for_constant_node():
    X = _data(200, 2)
    model = KAN([2, 4, 1], seed=2)
    with torch.no_grad():
        model.layers[0].mask[2] = 0.0  # hidden node 2 receives nothing: it is its bias, a constant
        model.layers[0].bias[2] = 0.7
    assert float(node_scores(model, X)[1][2]) == 0.0
    with torch.no_grad():
        y0 = model(X)
        folded = prune(model, X, edge_th=0.0)
        plain = prune(model, X, edge_th=0.0, fold_constants=False)
        assert folded.width == [2, 3, 1]
        torch.testing.assert_close(folded(X), y0, rtol=1e-5, atol=1e-5)
        assert (plain(X) - y0).abs().max() > 1e-3  # without folding the constant is lost


def test_nodes_left_without_edges_are_removed_after_edge_masking():
    X = _data(300, 2, seed=13)
    model = KAN([2, 4, 1], seed=13)
    _weaken_node(model, 1, 2, factor=3e-3)  # weak but nonzero: passes node_th=0, not edge_th
    with torch.no_grad():
        model.layers[0].mask[3] = 0.0  # node 3 receives nothing: a constant
        model.layers[0].bias[3] = 0.5
    scores = node_scores(model, X)[1]
    assert 0 < float(scores[2]) < 3e-2 and float(scores[3]) == 0.0
    pruned = prune(model, X, node_th=0.0, edge_th=3e-2)
    assert pruned.kept_nodes[1] == [0, 1]
    assert pruned.width == [2, 2, 1]
    with torch.no_grad():  # the constant node was folded exactly; the weak one changes little
        y = model(X)
        diff = (pruned(X) - y).abs().max()
    assert diff < 0.05 * float(y.std())
    plain = prune(model, X, node_th=0.0, edge_th=3e-2, fold_constants=False)
    ref = _masked_copy(model, plain, plain.kept_nodes)
    with torch.no_grad():
        torch.testing.assert_close(plain(X), ref(X), rtol=1e-5, atol=1e-6)


def test_prune_edges_masks_low_scores_and_keeps_shape():
    X = _data(200, 2)
    model = KAN([2, 3, 1], seed=3)
    with torch.no_grad():
        model.layers[0].basis.coef[1, 0] *= 1e-4
        model.layers[0].base_weight[1, 0] *= 1e-4
    scores = edge_scores(model, X, method="magnitude")
    new = prune_edges(model, X, threshold=1e-2, method="magnitude", fold_constants=False)
    assert new.width == model.width
    for l in range(len(model.layers)):
        expected = (scores[l] > 1e-2).to(new.layers[l].mask.dtype)
        assert torch.equal(new.layers[l].mask, expected)
    assert float(new.layers[0].mask[1, 0]) == 0.0
    assert torch.equal(model.layers[0].mask, torch.ones_like(model.layers[0].mask))  # input untouched


# --- product nodes ------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["attribution", "inout"])
def test_product_nodes_pruned_whole_and_function_kept(method):
    X = _data(300, 3, seed=4)
    # 2 sum nodes, one product of 2 and one of 3 sub-nodes -> layer 0 has 2 + 2 + 3 = 7 outputs
    model = KAN([3, [2, [2, 3]], 1], seed=4)
    assert model.layers[0].out_features == 7
    _weaken_node(model, 1, 0)  # a sum node
    _weaken_node(model, 1, 3)  # the arity-3 product node
    scores = node_scores(model, X, method=method)[1]
    assert float(scores[0]) < 1e-2 and float(scores[3]) < 1e-2
    assert float(scores[1]) > 1e-2 and float(scores[2]) > 1e-2
    pruned = prune(model, X, edge_th=0.0, method=method, fold_constants=False)
    assert pruned.width == [3, [1, [2]], 1]
    assert pruned.kept_nodes == [[0, 1, 2], [1, 2], [0]]
    assert pruned.layers[0].out_features == 3  # 1 sum sub-node + 2 factors of the kept product
    ref = _masked_copy(model, pruned, pruned.kept_nodes)
    with torch.no_grad():
        torch.testing.assert_close(pruned(X), ref(X), rtol=1e-5, atol=1e-6)


def test_product_node_passes_importance_to_every_factor():
    X = _data(200, 2, seed=5)
    model = KAN([2, [1, [3]], 1], seed=5)
    tr_scores = edge_scores(model, X)
    node = node_scores(model, X)
    owner = subnode_owner(model.specs[1])
    # every factor's incoming edges share the full importance of the product node
    for o in range(model.layers[0].out_features):
        torch.testing.assert_close(tr_scores[0][o].sum(), node[1][owner[o]], rtol=1e-5, atol=1e-7)


# --- score semantics ------------------------------------------------------------------------------
def test_masked_edges_and_dead_nodes_score_zero():
    X = _data(200, 2, seed=6)
    model = KAN([2, 4, 1], seed=6)
    with torch.no_grad():
        model.layers[0].mask[0, 1] = 0.0
        model.layers[1].mask[0, 3] = 0.0  # hidden node 3 feeds nothing
    for method in ("attribution", "magnitude"):
        e = edge_scores(model, X, method=method)
        assert float(e[0][0, 1]) == 0.0 and float(e[1][0, 3]) == 0.0
    attr = node_scores(model, X)
    assert float(attr[1][3]) == 0.0
    assert torch.all(edge_scores(model, X)[0][3] == 0)  # node 3's incoming edges: nothing downstream
    # conservation: a sum-only, single-output network hands out a total importance of 1
    torch.testing.assert_close(input_importance(model, X).sum(), torch.tensor(1.0), rtol=1e-5, atol=1e-6)
    assert float(node_scores(model, X, method="inout")[1][3]) == 0.0


def test_inout_scores_follow_the_kan_paper_rule():
    X = _data(200, 3, seed=7)
    model = KAN([3, 5, 2], seed=7)
    mags = edge_scores(model, X, method="magnitude")
    inout = node_scores(model, X, method="inout")
    for j in range(5):
        incoming, outgoing = mags[0][j].max(), mags[1][:, j].max()
        torch.testing.assert_close(inout[1][j], torch.minimum(incoming, outgoing))
    torch.testing.assert_close(inout[0], mags[0].max(0).values)
    torch.testing.assert_close(inout[2], mags[1].max(1).values)
    torch.testing.assert_close(input_importance(model, X, method="magnitude"), mags[0].max(0).values)


def test_symbolic_edges_are_scored_from_their_symbolic_activation():
    X = _data(200, 2, seed=8)
    model = KAN([2, 3, 1], seed=8)
    model.layers[1].symbolic.set(0, 1, "sin", a=2.0, b=0.1, c=1.5, d=0.3)
    model.layers[1].symbolic.set(0, 2, "x^2", a=1.0, b=0.0, c=0.0, d=4.0)  # constant edge
    with torch.no_grad():
        h = model.layers[0](X)
        expected = edge_magnitudes((1.5 * torch.sin(2.0 * h[:, 1:2] + 0.1) + 0.3)[:, None, :], h[:, 1:2])
    mags = edge_scores(model, X, method="magnitude")[1]
    torch.testing.assert_close(mags[0, 1], expected[0, 0], rtol=1e-5, atol=1e-6)
    assert float(mags[0, 2]) < 1e-6
    assert float(edge_scores(model, X)[1][0, 2]) < 1e-6


def test_scores_leave_model_mode_and_rng_alone():
    X = _data(50, 2)
    model = KAN([2, 3, 1], seed=0)
    model.train()
    rng = torch.random.get_rng_state()
    edge_scores(model, X), node_scores(model, X, "inout"), input_importance(model, X)
    assert model.training and all(m.training for m in model.modules())
    assert torch.equal(rng, torch.random.get_rng_state())


# --- carry-over ------------------------------------------------------------------------------------
def test_prune_carries_dtype_options_symbolic_state_and_mode():
    X = _data(200, 3, seed=9).double()
    model = KAN([3, 5, 1], seed=9, grid_size=7, order=2).double()
    _weaken_node(model, 1, 0)
    model.layers[1].symbolic.set(0, 3, "tanh", a=1.0, b=0.0, c=2.0, d=0.0)
    model.train()
    pruned = prune(model, X, edge_th=0.0)
    assert pruned.width == [3, 4, 1]
    assert all(p.dtype == torch.float64 for p in pruned.parameters())
    assert pruned.training
    basis = pruned.layers[0].basis
    assert (basis.grid_size, basis.order) == (7, 2)
    assert pruned.layers[1].symbolic.function_name(0, 2) == "tanh"  # old node 3 is now node 2
    assert pruned.layers[1].symbolic.function_name(0, 0) is None


def test_never_prunes_to_an_empty_network(caplog):
    X = _data(100, 2)
    model = KAN([2, 4, 1], seed=0)
    best = int(torch.argmax(node_scores(model, X)[1]))
    with caplog.at_level(logging.WARNING, logger="symkan.pruning"):
        small = prune(model, X, node_th=1e6, edge_th=1e6)
    assert small.width == [2, 1, 1]
    assert all(layer.mask.sum() >= 1 for layer in small.layers)
    assert any("keeping" in r.message for r in caplog.records)
    # the kept node is the best one: its outgoing edge equals the original's
    with torch.no_grad():
        assert torch.equal(small.layers[1].basis.coef[0, 0], model.layers[1].basis.coef[0, best])


# --- inputs -------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_prune_inputs_drops_a_dead_variable_and_keeps_names():
    g = torch.Generator().manual_seed(10)
    X = torch.rand(600, 3, generator=g) * 2 - 1
    y = torch.sin(math.pi * X[:, 0]) + X[:, 1] ** 2  # x3 is unused
    model = KAN([3, 3, 1], seed=0)
    fit(model, X, y, steps=15, lamb=1e-2)
    rng = torch.random.get_rng_state()
    res = prune_inputs(model, X, names=["a", "b", "c"])
    assert torch.equal(rng, torch.random.get_rng_state())
    assert isinstance(res, InputPruneResult)
    small, kept, names = res
    assert kept == [0, 1] and names == ["a", "b"] and small.n_inputs == 2
    with torch.no_grad():
        diff = (small(X[:, kept]) - model(X)).abs().max()
    assert diff < 0.05 * float(y.std())  # the dropped input contributed (almost) nothing
    assert prune_inputs(model, X).names is None


# --- bad input ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, match", [
    (lambda m, X: prune(m, X, node_th=-1e-2), "node_th"),
    (lambda m, X: prune(m, X, edge_th=float("nan")), "edge_th"),
    (lambda m, X: prune(m, X, method="bogus"), "method"),
    (lambda m, X: prune(m, X[:, :1]), "columns"),
    (lambda m, X: prune_edges(m, X, threshold=-1.0), "threshold"),
    (lambda m, X: prune_edges(m, X, method="inout"), "method"),
    (lambda m, X: prune_inputs(m, X, threshold=float("nan")), "threshold"),
    (lambda m, X: prune_inputs(m, X, names=["a"]), "names"),
    (lambda m, X: edge_scores(m, X, method="bogus"), "method"),
    (lambda m, X: node_scores(m, torch.zeros(5, 3)), "columns"),
    (lambda m, X: input_importance(m, X[:1]), "rows"),
    (lambda m, X: prune("not a model", X), "model"),
    (lambda m, X: edge_scores(torch.nn.Linear(2, 1), X), "model"),
])
def test_bad_input_raises_value_error(call, match):
    model = KAN([2, 3, 1], seed=0)
    X = _data(20, 2)
    with pytest.raises(ValueError, match=match):
        call(model, X)


@pytest.mark.parametrize("fn", [prune, prune_edges, prune_inputs, edge_scores, node_scores])
def test_nan_in_X_raises_value_error(fn):
    model = KAN([2, 3, 1], seed=0)
    X = _data(20, 2)
    X[3, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        fn(model, X)


# --- every basis, through the layer contract only ------------------------------------------------
def _bases():
    from symkan.bases import available_bases
    return available_bases()


@pytest.mark.parametrize("basis", _bases())
def test_prune_works_for_every_basis(basis):
    X = _data(120, 3, seed=11)
    model = KAN([3, [3, 1], 2], basis=basis, seed=0)
    layer = model.layers[1]
    with torch.no_grad():  # node 0 feeds nothing -> zero importance, removed
        layer.mask[:, 0] = 0.0
    model.layers[0].mask[1, 2] = 0.0
    rng = torch.random.get_rng_state()
    before = _state(model)
    pruned = prune(model, X, edge_th=0.0, fold_constants=False)
    assert torch.equal(rng, torch.random.get_rng_state())
    assert _same_state(before, _state(model))
    assert pruned.width == [3, [2, [2]], 2]
    assert pruned.kept_nodes == [[0, 1, 2], [1, 2, 3], [0, 1]]
    assert type(pruned.layers[0].basis) is type(model.layers[0].basis)
    ref = _masked_copy(model, pruned, pruned.kept_nodes)
    with torch.no_grad():
        torch.testing.assert_close(pruned(X), ref(X), rtol=1e-4, atol=1e-5)
    small = prune_inputs(pruned, X, threshold=0.0).model
    assert small.n_inputs == 3  # every input is used


def test_masked_symbolic_edge_is_gone_from_forward_and_scores():
    """Scores are computed from the trace; the forward must agree with it on masked symbolic edges."""
    X = _data(100, 2, seed=12)
    model = KAN([2, 2, 1], seed=0)
    model.layers[1].symbolic.set(0, 1, "sin", a=1.0, b=0.0, c=3.0, d=0.5)
    with torch.no_grad():
        model.layers[1].mask[0, 1] = 0.0
        torch.testing.assert_close(model(X), model.trace(X).output)
    assert float(edge_scores(model, X, method="magnitude")[1][0, 1]) == 0.0
