"""The fast training paths compute exactly what the plain definitions compute.

* B-spline features (w-form Cox–de Boor, batch-innermost layout, analytic backward)
  against the textbook recursion written here, values and gradients;
* cached knot reciprocals and cached edge masks never go stale (in-place edits, new
  tensors, dtype moves, state loading) and are not carried by copies or pickles.
"""
from __future__ import annotations

import copy
import pickle

import pytest
import torch

from symkan.bases import get_basis
from symkan.nn import KAN, KANLayer
from symkan.tensor_memo import TensorMemo


def textbook_bsplines(x: torch.Tensor, grid: torch.Tensor, order: int) -> torch.Tensor:
    """Cox–de Boor as written in the literature. x: (batch, in), grid: (in, M + 1) -> (batch, in, M − order)."""
    x = x.unsqueeze(-1)
    t = grid.unsqueeze(0)
    b = ((x >= t[..., :-1]) & (x < t[..., 1:])).to(x.dtype)
    for p in range(1, order + 1):
        left = (x - t[..., : -(p + 1)]) / (t[..., p:-1] - t[..., : -(p + 1)])
        right = (t[..., p + 1:] - x) / (t[..., p + 1:] - t[..., 1:-p])
        b = left * b[..., :-1] + right * b[..., 1:]
    return b


def irregular_basis(order: int, n_in: int = 3):
    basis = get_basis("bspline")(n_in, 2, grid_size=5, order=order, grid_range=(-1.5, 2.0)).double()
    g = torch.Generator().manual_seed(order)
    x = torch.rand(400, n_in, generator=g, dtype=torch.float64) * 3.5 - 1.5
    basis.update_grid(x)  # quantile knots: unequal cells
    return basis


def probe(n_in: int = 3) -> torch.Tensor:
    """Points inside, outside and exactly on knots of the grid."""
    g = torch.Generator().manual_seed(7)
    x = torch.rand(300, n_in, generator=g, dtype=torch.float64) * 6.0 - 3.0
    return x


@pytest.mark.parametrize("order", [0, 1, 2, 3, 4])
def test_bspline_features_match_textbook_recursion(order):
    basis = irregular_basis(order)
    x = torch.cat([probe(), basis.grid.T.contiguous()])  # include every knot exactly
    fast = basis.features(x)
    ref = textbook_bsplines(x, basis.grid, order)
    assert fast.shape == ref.shape == (x.shape[0], 3, 5 + order)
    torch.testing.assert_close(fast, ref, rtol=0, atol=1e-13)
    # a (batch, in, K) view of contiguous (in, K, batch) memory: reshape(batch, in·K) needs no copy
    assert fast.permute(1, 2, 0).is_contiguous()


@pytest.mark.parametrize("order", [0, 1, 2, 3, 4])
def test_bspline_gradient_matches_autograd_of_textbook_recursion(order):
    basis = irregular_basis(order)
    x = probe().requires_grad_()
    weights = torch.randn(300, 3, 5 + order, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    fast = (basis.features(x) * weights).sum()
    ref = (textbook_bsplines(x, basis.grid, order) * weights).sum()
    if order == 0:  # piecewise constant: no gradient at all
        assert not ref.requires_grad
        if fast.requires_grad:
            (g_fast,) = torch.autograd.grad(fast, x, allow_unused=True)
            assert g_fast is None or not g_fast.any()
        return
    (g_fast,) = torch.autograd.grad(fast, x)
    (g_ref,) = torch.autograd.grad(ref, x)
    assert g_ref.abs().max() > 0.1
    torch.testing.assert_close(g_fast, g_ref, rtol=1e-10, atol=1e-11)


def test_trainable_knots_get_gradients():
    basis = irregular_basis(3)
    grid = basis.grid.clone().requires_grad_()
    basis.grid = grid  # a user experiment: knots as a leaf tensor that requires grad
    x = probe()
    out = basis.features(x)
    torch.testing.assert_close(out, textbook_bsplines(x, grid.detach(), 3), rtol=0, atol=1e-13)
    (g,) = torch.autograd.grad(out.pow(2).sum(), grid)
    assert torch.isfinite(g).all() and g.abs().sum() > 0


def test_knot_reciprocals_follow_every_grid_change():
    basis = irregular_basis(3)
    x = probe()

    def check():
        torch.testing.assert_close(basis.features(x), textbook_bsplines(x, basis.grid, 3), rtol=0, atol=1e-12)

    check()
    with torch.no_grad():
        basis.grid.mul_(1.5)  # in place
    check()
    other = irregular_basis(2)
    state = {"coef": basis.coef.detach().clone(), "grid": basis.grid * 0.5}
    basis.load_state_dict(state)  # copy_ into the existing buffer
    check()
    basis.update_grid(x)  # a new grid tensor
    check()
    basis.refine(8)  # new size
    assert basis.features(x).shape[-1] == 8 + 3
    check()
    basis.float()
    torch.testing.assert_close(basis.features(x.float()), textbook_bsplines(x.float(), basis.grid, 3),
                               rtol=0, atol=1e-5)
    assert other.features(x).shape[-1] == 5 + 2


def test_memos_are_not_copied_or_pickled():
    model = KAN([2, 3, 1], seed=0).double()
    x = probe(2)
    model(x)  # fills the memos
    assert model.layers[0].basis.__dict__["_recip_memo"]._value is not None
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        memo = clone.layers[0].basis.__dict__.get("_recip_memo")
        assert memo is None or memo._value is None
        torch.testing.assert_close(clone(x), model(x), rtol=0, atol=0)
    # a copy taken after an in-place edit that no forward has seen yet is still right
    with torch.no_grad():
        model.layers[0].basis.grid.mul_(1.25)
    clone = copy.deepcopy(model)
    torch.testing.assert_close(clone(x), model(x), rtol=0, atol=0)


def test_layer_mask_changes_are_seen():
    layer = KANLayer(3, 2, "bspline", generator=torch.Generator().manual_seed(0)).double()
    x = probe()
    full = layer(x)
    acts = layer.edge_activations(x)
    torch.testing.assert_close(acts.sum(-1) + layer.bias, full, rtol=1e-12, atol=1e-12)
    with torch.no_grad():
        layer.mask[1, 2] = 0.0  # prune one edge in place
    pruned = layer(x)
    expected = full.clone()
    expected[:, 1] -= acts[:, 1, 2]
    torch.testing.assert_close(pruned, expected, rtol=1e-12, atol=1e-12)
    assert torch.all(layer.edge_activations(x)[:, 1, 2] == 0)
    layer.symbolic.set(0, 0, "sin", a=2.0, b=0.5, c=0.3, d=0.1)
    sym = 0.3 * torch.sin(2.0 * x[:, 0] + 0.5) + 0.1
    expected[:, 0] += sym - acts[:, 0, 0]
    torch.testing.assert_close(layer(x), expected, rtol=1e-12, atol=1e-12)
    layer.symbolic.clear(0, 0)
    with torch.no_grad():
        layer.mask.fill_(1.0)
    torch.testing.assert_close(layer(x), full, rtol=0, atol=0)


def test_tensor_memo_recomputes_on_version_identity_and_storage():
    calls = []
    memo = TensorMemo()
    a = torch.zeros(3)

    def compute():
        calls.append(1)
        return a.sum().item()

    assert memo.get((a,), compute) == 0 and memo.get((a,), compute) == 0 and len(calls) == 1
    a.add_(1.0)
    assert memo.get((a,), compute) == 3 and len(calls) == 2
    a.set_(torch.full((3,), 2.0))
    assert memo.get((a,), compute) == 6 and len(calls) == 3
    b = a.clone()
    assert memo.get((b,), lambda: -1) == -1  # another tensor, same values: recomputed
    with torch.inference_mode():
        c = torch.ones(2)
    assert memo.get((c,), lambda: 5) == 5  # no version counter: computed, not cached


@pytest.mark.slow
@pytest.mark.parametrize("kwargs", [{}, {"lamb": 1e-3, "update_grid_every": 3}, {"val_fraction": 0.25, "early_stopping": 2}])
def test_flat_lbfgs_is_bit_identical_and_leaves_own_storage(kwargs, monkeypatch):
    import symkan.train as train

    g = torch.Generator().manual_seed(3)
    X = torch.rand(200, 2, generator=g) * 2 - 1
    y = torch.sin(3 * X[:, 0]) * X[:, 1]

    def run():
        model = KAN([2, [2, 1], 1], seed=1)
        history = train.fit(model, X, y, steps=6, **kwargs)
        return model, history

    # torch's LBFGS on both sides (the NumPy one, fit's default on the CPU, is tested in
    # test_analytic_backward.py): the flat views alone must not change a bit
    monkeypatch.setattr(train, "flat_lbfgs_usable", lambda flat: False)
    flat_model, flat_hist = run()
    monkeypatch.setattr(train.FlatParameters, "usable", staticmethod(lambda params: False))
    plain_model, plain_hist = run()
    assert flat_hist.train_loss == plain_hist.train_loss and flat_hist.val_loss == plain_hist.val_loss
    for a, b in zip(flat_model.parameters(), plain_model.parameters()):
        assert torch.equal(a, b)
    params = list(flat_model.parameters())
    assert all(p._base is None and (p.grad is None or p.grad._base is None) for p in params)
    assert len({p.untyped_storage().data_ptr() for p in params}) == len(params)
