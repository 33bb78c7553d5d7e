"""The local B-spline evaluation (uniform grids) and the one-matmul forward of the B-spline
basis compute what Cox–de Boor computes: values and x-gradients, at knots, in the outer
cells and outside the grid, orders 0-4, on uniform and non-uniform grids.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from symkan.bases import get_basis
from symkan.bases.bspline import extended_grid
from symkan.bases import bspline_local
from symkan.bases.bspline_local import local_slopes, local_values, uniform_knots
from symkan.nn import KANLayer
from test_fast_paths import textbook_bsplines as reference  # Cox–de Boor as in the literature

ORDERS = [0, 1, 2, 3, 4]


@pytest.fixture(autouse=True)
def local_path_at_every_size(monkeypatch):
    """The inputs here are small, where the basis would use Cox–de Boor: take the local
    path at every size so that it is what these tests check."""
    monkeypatch.setattr("symkan.bases.bspline.LOCAL_MIN_POINTS", 0)


def uniform_basis(order: int, n_in: int = 3, n_out: int = 2):
    """A float64 basis whose knots are uniform in float64 (built in float64, not cast)."""
    basis = get_basis("bspline")(n_in, n_out, grid_size=5, order=order, grid_range=(-1.5, 2.0)).double()
    lo, hi = torch.full((n_in,), -1.5, dtype=torch.float64), torch.full((n_in,), 2.0, dtype=torch.float64)
    basis.grid = extended_grid(lo, hi, 5, order)
    return basis


def nonuniform_basis(order: int, n_in: int = 3):
    basis = uniform_basis(order, n_in)
    x = torch.rand(400, n_in, generator=torch.Generator().manual_seed(order), dtype=torch.float64) * 3.5 - 1.5
    basis.update_grid(x)  # quantile knots: unequal cells
    return basis


def points(basis, spread: float = 6.0) -> torch.Tensor:
    """Random points over [-spread/2, spread/2] (inside, in the outer cells and outside the
    extended grid [-3.6, 4.1]), every knot exactly, and the extended grid's two ends."""
    n_in = basis.in_features
    x = torch.rand(300, n_in, generator=torch.Generator().manual_seed(7), dtype=torch.float64) * spread - spread / 2
    ends = torch.stack([basis.grid[:, 0], basis.grid[:, -1], basis.grid[:, 0] - 1e-9, basis.grid[:, -1] - 1e-9])
    return torch.cat([x, basis.grid.T.contiguous(), ends])


def path(basis) -> str | None:
    """The evaluation the basis takes: "uniform" (the local one) or None (Cox–de Boor)."""
    return None if basis._uniform_knots() is None else "uniform"


def x_gradient(features, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_()
    (g,) = torch.autograd.grad((features(x) * weights).sum(), x)
    return g


@pytest.mark.parametrize("order", ORDERS)
def test_uniform_grid_is_detected_and_kept_up_to_date(order):
    basis = uniform_basis(order)
    local = None if order == 0 else "uniform"  # order 0: Cox–de Boor's step function
    assert path(basis) == local and uniform_knots(basis.grid) is not None
    assert path(get_basis("bspline")(4, 2, order=order)) == local  # float32, as built
    with torch.no_grad():
        basis.grid[1, 4] += 0.05  # in place: that input's cells are no longer equal
    assert path(basis) is None
    assert path(nonuniform_basis(order)) is None


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("grid", ["uniform", "nonuniform"])
def test_features_match_cox_de_boor_everywhere(order, grid):
    basis = uniform_basis(order) if grid == "uniform" else nonuniform_basis(order)
    x = points(basis)
    fast = basis.features(x)
    torch.testing.assert_close(fast, reference(x, basis.grid, order), rtol=0, atol=1e-13)
    outside = (x < basis.grid[:, 0]) | (x >= basis.grid[:, -1])  # (batch, in)
    assert outside.any()
    if grid == "uniform":  # the local path: exactly 0 off the extended grid, t_M included
        assert (fast[outside] == 0).all()  # (Cox–de Boor's w-form: to round-off at t_M)
    assert fast.permute(1, 2, 0).is_contiguous()


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("grid", ["uniform", "nonuniform"])
def test_x_gradients_match_cox_de_boor(order, grid):
    basis = uniform_basis(order) if grid == "uniform" else nonuniform_basis(order)
    x = points(basis)
    if order == 1:  # a kink on every knot: either one-sided slope is right there, compare off the knots
        x = x[:300]
    weights = torch.randn(x.shape[0], 3, 5 + order, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    fast = x_gradient(basis.features, x, weights)
    ref = x_gradient(lambda t: reference(t, basis.grid, order), x, weights)
    assert ref.abs().max() > 0.1
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-11)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("sync_free", [False, True])
def test_inner_cells_and_outer_cells_paths_agree(order, sync_free, monkeypatch):
    """A batch inside the inner cells takes the plain scatter; one more point in an outer cell
    switches the whole batch to the padded features (the path of other devices, where looking
    at the cells costs a host sync: forced here for all batches): the shared rows must not change."""
    if sync_free:
        monkeypatch.setattr(bspline_local, "_may_sync", lambda first: False)
    basis = uniform_basis(order)
    lo, hi = basis.grid[:, order], basis.grid[:, -order - 1]  # the inner cells [t_k, t_{M−k})
    inner = lo + (hi - lo) * torch.rand(200, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    outer = torch.cat([inner, torch.full((1, 3), -2.0, dtype=torch.float64)])
    for x in (inner, outer, points(basis)):
        torch.testing.assert_close(basis.features(x), reference(x, basis.grid, order), rtol=0, atol=1e-13)
    weights = torch.randn(201, 3, 5 + order, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    g_inner = x_gradient(basis.features, inner, weights[:200])
    g_outer = x_gradient(basis.features, outer, weights)
    torch.testing.assert_close(g_inner, g_outer[:200], rtol=1e-12, atol=1e-13)
    spread = points(basis)[:300]  # inside, in the outer cells and off the grid (no knots: order 1's kinks)
    w = torch.randn(300, 3, 5 + order, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    torch.testing.assert_close(x_gradient(basis.features, spread, w),
                               x_gradient(lambda t: reference(t, basis.grid, order), spread, w), rtol=1e-10, atol=1e-11)


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_local_pieces_are_the_cardinal_b_spline(order):
    """Pieces of one cell sum to 1, and their s-derivatives (which sum to 0) match finite differences."""
    s = torch.linspace(0.0, 1.0, 101, dtype=torch.float64)[None, :]
    values = torch.stack(local_values(s, order))
    torch.testing.assert_close(values.sum(0), torch.ones_like(s), rtol=0, atol=1e-14)
    assert (values >= 0).all()
    slopes = torch.stack(local_slopes(s, order))
    eps = 1e-6
    numeric = (torch.stack(local_values(s + eps, order)) - torch.stack(local_values(s - eps, order))) / (2 * eps)
    torch.testing.assert_close(slopes, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("order", [1, 3])
@pytest.mark.parametrize("grid", ["uniform", "nonuniform"])
def test_expansion_gives_the_features_and_their_slope_map(order, grid):
    basis = uniform_basis(order) if grid == "uniform" else nonuniform_basis(order)
    x = points(basis)[:300]
    feats, slope = basis.expansion(x)
    torch.testing.assert_close(feats.permute(2, 0, 1), reference(x, basis.grid, order), rtol=0, atol=1e-13)
    grad = torch.randn(feats.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    ref = x_gradient(lambda t: reference(t, basis.grid, order), x, grad.permute(2, 0, 1))
    torch.testing.assert_close(slope(grad).T, ref, rtol=1e-10, atol=1e-11)
    assert torch.equal(basis.expansion(x)[0], feats)  # deterministic


@pytest.mark.parametrize("grid", ["uniform", "nonuniform"])
@pytest.mark.parametrize("masked", [False, True])
def test_basis_forward_matches_features_then_linear_and_gradchecks(grid, masked):
    basis = uniform_basis(3) if grid == "uniform" else nonuniform_basis(3)
    mask = (torch.rand(2, 3, generator=torch.Generator().manual_seed(5)) > 0.4).double() if masked else None
    x = points(basis)[:280:7].clone().requires_grad_()
    weight = basis.coef if mask is None else basis.coef * mask[:, :, None]
    expected = F.linear(reference(x, basis.grid, 3).reshape(x.shape[0], -1), weight.reshape(2, -1))
    out = basis(x, mask)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-13)
    g_x, g_c = torch.autograd.grad(out.square().sum(), (x, basis.coef))
    r_x, r_c = torch.autograd.grad(expected.square().sum(), (x, basis.coef))
    torch.testing.assert_close(g_x, r_x, rtol=1e-10, atol=1e-11)
    torch.testing.assert_close(g_c, r_c, rtol=1e-10, atol=1e-11)
    x_in = torch.rand(12, 3, generator=torch.Generator().manual_seed(6), dtype=torch.float64) * 3 - 1.2
    coef = basis.coef.detach().clone()
    assert torch.autograd.gradcheck(
        lambda t, c: torch.func.functional_call(basis, {"coef": c}, (t, mask)),
        (x_in.requires_grad_(), coef.requires_grad_()))


def test_layer_float32_default_is_uniform_and_keeps_working_after_update_grid():
    layer = KANLayer(4, 3, "bspline", generator=torch.Generator().manual_seed(0))
    assert path(layer.basis) == "uniform"  # the fast path is the default one
    x = torch.rand(64, 4, generator=torch.Generator().manual_seed(1)) * 2 - 1
    before = layer(x)
    ref = F.linear(reference(x, layer.basis.grid, 3).reshape(64, -1), layer.basis.coef.reshape(3, -1))
    ref = ref + F.linear(F.silu(x), layer.base_weight) + layer.bias
    torch.testing.assert_close(before, ref, rtol=1e-5, atol=1e-5)
    layer.basis.update_grid(x)
    assert path(layer.basis) is None
    torch.testing.assert_close(layer(x), before, rtol=0.05, atol=0.05)  # refit keeps the curves
    layer.basis.refine(8)
    out = layer(x)
    assert out.shape == (64, 3) and torch.isfinite(out).all()


def test_trainable_knots_and_empty_batch():
    basis = uniform_basis(3)
    basis.grid = basis.grid.clone().requires_grad_()  # plain autograd through Cox–de Boor
    x = points(basis)[:300]
    out = basis(x)
    (g,) = torch.autograd.grad(out.square().sum(), basis.grid)
    assert torch.isfinite(g).all() and g.abs().sum() > 0
    with torch.no_grad():  # inference with trainable knots takes the fused path
        torch.testing.assert_close(basis(x), out.detach(), rtol=0, atol=1e-13)
    empty = uniform_basis(3)(torch.zeros(0, 3, dtype=torch.float64))
    assert empty.shape == (0, 2)
