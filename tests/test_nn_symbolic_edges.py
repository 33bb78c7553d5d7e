"""SymbolicEdges' grouping and evaluation, and the fast path of a fully symbolic layer
(what the joint refit evaluates through the model)."""
from __future__ import annotations

import pytest
import torch

from symkan.functions.library import register_function
from symkan.nn import KAN, KANLayer
from symkan.symbolic.refit import joint_refit, mse


def _x(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=g, dtype=torch.float64) * 2 - 1


def _snapped_layer(edges=None):
    """A [3 -> 2] float64 layer whose edge (1, 2) is pruned and every other edge fixed."""
    layer = KANLayer(3, 2, generator=torch.Generator().manual_seed(0)).double()
    edges = edges or {(0, 0): ("sin", (2.0, 0.5, 0.3, 0.1)), (0, 1): ("x^2", (1.0, 0.2, -1.5, 0.0)),
                      (0, 2): ("sin", (1.0, 0.0, 0.7, 0.0)), (1, 0): ("x", (1.0, 0.0, 2.0, -0.3)),
                      (1, 1): ("exp", (0.5, 0.0, 1.0, 0.0))}
    with torch.no_grad():
        layer.mask[1, 2] = 0.0
        layer.bias.copy_(torch.tensor([0.25, -0.5]))
    for (o, i), (name, params) in edges.items():
        layer.symbolic.set(o, i, name, *params)
    return layer


def test_groups_collect_the_fixed_edges_by_function():
    layer = _snapped_layer()
    groups = {name: sorted(zip(o.tolist(), i.tolist())) for name, o, i in layer.symbolic.groups()}
    assert groups == {"sin": [(0, 0), (0, 2)], "x^2": [(0, 1)], "x": [(1, 0)], "exp": [(1, 1)]}
    layer.symbolic.set(1, 2, "x")  # fixed but pruned: left out once alive is given
    alive = {name: sorted(zip(o.tolist(), i.tolist())) for name, o, i in layer.symbolic.groups(layer.mask > 0)}
    assert alive["x"] == [(1, 0)]
    assert layer.symbolic.groups(torch.zeros(2, 3, dtype=torch.bool)) == []


def test_a_fully_symbolic_layer_evaluates_only_its_symbolic_edges(monkeypatch):
    layer = _snapped_layer()
    x = _x(50, 3)
    assert layer.fully_symbolic
    expected = layer.edge_activations(x).sum(-1) + layer.bias
    x0, x1, x2 = x.unbind(1)
    by_hand = torch.stack([0.3 * torch.sin(2 * x0 + 0.5) + 0.1 - 1.5 * (x1 + 0.2) ** 2 + 0.7 * torch.sin(x2) + 0.25,
                           2 * x0 - 0.3 + torch.exp(0.5 * x1) - 0.5], 1)

    def no_basis(*args, **kwargs):
        raise AssertionError("the numeric branch was evaluated")

    monkeypatch.setattr(layer.basis, "forward", no_basis)
    out = layer(x)
    torch.testing.assert_close(out, expected, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(out, by_hand, rtol=1e-13, atol=1e-13)
    monkeypatch.undo()
    layer.symbolic.clear(1, 1)  # one numeric edge again: the full forward
    assert not layer.fully_symbolic
    torch.testing.assert_close(layer(x), layer.edge_activations(x).sum(-1) + layer.bias, rtol=1e-13, atol=1e-13)


def test_the_fast_path_follows_every_change_of_the_symbolic_edges(custom_cleanup):
    layer = _snapped_layer()
    x = _x(40, 3, seed=1)
    before = layer(x)
    layer.symbolic.set(0, 1, "x", 1.0, 0.0, -1.5, 0.0)  # another function on a fixed edge
    changed = layer(x)
    torch.testing.assert_close(changed[:, 0] - before[:, 0], -1.5 * x[:, 1] + 1.5 * (x[:, 1] + 0.2) ** 2)
    torch.testing.assert_close(changed[:, 1], before[:, 1], rtol=0, atol=0)
    with torch.no_grad():
        layer.mask[0, 2] = 0.5  # a fractional mask weight: the full forward weighs the edge
    assert not layer.fully_symbolic
    torch.testing.assert_close(layer(x), layer.edge_activations(x).sum(-1) + layer.bias, rtol=1e-13, atol=1e-13)
    # functions are looked up at every evaluation: a redefined custom entry is used at once
    register_function("bump_fast", "x*exp(-x**2)", complexity=3)
    layer.symbolic.set(1, 1, "bump_fast", 1.0, 0.0, 1.0, 0.0)
    with torch.no_grad():
        layer.mask[0, 2] = 1.0
    first = layer(x)
    register_function("bump_fast", "2*x*exp(-x**2)", complexity=3)
    torch.testing.assert_close(layer(x)[:, 1] - first[:, 1], x[:, 1] * torch.exp(-x[:, 1] ** 2))


def test_joint_refit_evaluates_the_network_through_the_model(monkeypatch):
    """The refit and its loss go through KAN.forward (the fast path of fully symbolic
    layers), never through a re-derivation of the edge groups."""
    model = KAN([2, 1], seed=0).double()
    model.layers[0].symbolic.set(0, 0, "sin", 1.5, 0.0, 1.0, 0.0)
    model.layers[0].symbolic.set(0, 1, "x^2", 1.0, 0.0, 0.5, 0.0)
    X = _x(200, 2, seed=2)
    y = (2.0 * torch.sin(1.5 * X[:, 0]) - 0.8 * X[:, 1] ** 2 + 0.1)[:, None]
    calls = []
    forward = KAN.forward

    def counting(self, x):
        calls.append(x.shape)
        return forward(self, x)

    monkeypatch.setattr(KAN, "forward", counting)
    monkeypatch.setattr(model.layers[0].basis, "forward", lambda *a, **k: pytest.fail("numeric branch used"))
    before = mse(model, X, y)
    loss = joint_refit(model, X, y, max_iter=50)
    assert calls and loss < 1e-15 < before
    c = model.layers[0].symbolic.affine[0, :, 2]
    torch.testing.assert_close(c, torch.tensor([2.0, -0.8], dtype=torch.float64), rtol=1e-8, atol=1e-8)
