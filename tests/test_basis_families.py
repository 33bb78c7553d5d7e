"""Each basis family against independent references: B-spline partition of unity and grid
updates, numpy / scipy polynomials, closed-form Fourier and wavelet features, bad options.
(The contract every basis meets is in test_bases.py.)"""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import scipy.special
import torch

from symkan.bases import available_bases, get_basis
from symkan.nn import KAN

from basis_helpers import gen, inputs, make_layer

BASES = available_bases()


# --- B-spline ------------------------------------------------------------------------

@pytest.mark.parametrize("order", [1, 2, 3])
def test_bspline_partition_of_unity(order):
    basis = get_basis("bspline")(2, 1, grid_size=6, order=order, grid_range=(-2.0, 3.0)).double()
    x = torch.linspace(-2.0, 3.0, 401, dtype=torch.float64)[:-1, None].expand(-1, 2)  # [lo, hi)
    feats = basis.features(x)
    assert feats.shape == (400, 2, 6 + order)
    torch.testing.assert_close(feats.sum(-1), torch.ones(400, 2, dtype=torch.float64))
    assert feats.min() >= 0


@pytest.mark.parametrize("name", ["bspline", "rbf"])
def test_grid_update_and_refine_preserve_curves(name):
    layer = make_layer(name, n_in=2, n_out=3)
    x = inputs(400, 2, scale=0.8)
    before = layer(x)
    scale = before.std().item()
    layer.basis.update_grid(x)
    lo, hi = layer.basis.domain()
    torch.testing.assert_close(lo, x.min(0).values, rtol=0, atol=1e-3)
    torch.testing.assert_close(hi, x.max(0).values, rtol=0, atol=1e-3)
    # moving G knots onto a smaller range re-approximates the curves: small, not zero, error
    err = (layer(x) - before).abs()
    assert err.mean() < 0.02 * scale and err.max() < 0.3 * scale
    after_update = layer(x)
    layer.basis.refine(20, x)  # many more cells: a close refit
    assert layer.basis.num_features == (20 + layer.basis.order if name == "bspline" else 20)
    err = (layer(x) - after_update).abs()
    # Gaussians of width = spacing saturate (no partition of unity; worst at the ends)
    tol = 0.02 if name == "bspline" else 0.1
    assert err.mean() < 0.1 * tol * scale and err.max() < tol * scale
    # a rebuilt copy (config() now carries the new size) loads the refined state
    again = type(layer.basis)(2, 3, **layer.basis.config()).double()
    again.load_state_dict(layer.basis.state_dict())
    torch.testing.assert_close(again.edge_activations(x), layer.basis.edge_activations(x), rtol=0, atol=0)


#: the bases that declare a grid of knots / centres
GRID_BASES = [name for name in BASES if get_basis(name).has_grid]


def grid_update_keeps(layer, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Edge activations at x before and after ``update_grid(x)``, each (n, out, in); the
    layer stays finite on inputs over and past [-1, 1]."""
    before = layer.basis.edge_activations(x)
    layer.basis.update_grid(x)
    probe = inputs(100, x.shape[1], seed=2, dtype=x.dtype, scale=1.5)
    assert torch.isfinite(layer(probe)).all() and torch.isfinite(layer.basis.edge_activations(probe)).all()
    after = layer.basis.edge_activations(x)
    assert torch.isfinite(after).all()
    return before, after


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name", GRID_BASES)
def test_grid_update_with_a_constant_column(name, dtype):
    layer = make_layer(name, n_in=3, n_out=4, dtype=dtype)
    x = inputs(200, 3, scale=0.8, dtype=dtype)
    x[:, 1] = 0.3  # one constant input: all its quantile knots coincide
    before, after = grid_update_keeps(layer, x)
    scale = before.std().item()
    # the constant input's edges keep their value there (a one-point fit) ...
    torch.testing.assert_close(after[:, :, 1], before[:, :, 1], rtol=0, atol=1e-5 * scale)
    # ... and the others are re-approximated as on ordinary data
    err = (after - before)[:, :, [0, 2]].abs()
    assert err.mean() < 0.02 * scale and err.max() < 0.3 * scale


@pytest.mark.parametrize("name", GRID_BASES)
def test_grid_update_with_fewer_rows_than_features(name):
    layer = make_layer(name, n_in=3, n_out=4)
    x = inputs(3, 3, scale=0.8)  # 3 rows, 8 features per input: an underdetermined refit
    assert layer.basis.num_features > x.shape[0]
    before, after = grid_update_keeps(layer, x)
    # the ridge picks one of the many exact fits: the curves pass through the old values
    torch.testing.assert_close(after, before, rtol=0, atol=1e-5 * before.abs().max().item())


@pytest.mark.parametrize("name", GRID_BASES)
def test_grid_update_with_a_constant_column_far_from_zero_float32(name):
    # knots 1e-4 apart are below float32 precision at 100: they used to coincide (NaN curves)
    layer = make_layer(name, n_in=2, n_out=3, dtype=torch.float32)
    x = inputs(50, 2, dtype=torch.float32)
    x[:, 1] = 100.0
    before, after = grid_update_keeps(layer, x)
    torch.testing.assert_close(after[:, :, 1], before[:, :, 1], rtol=0, atol=1e-5)


def test_rbf_features_closed_form():
    basis = get_basis("rbf")(1, 1, num_centers=5, grid_range=(-2.0, 2.0)).double()
    x = torch.linspace(-3, 3, 61, dtype=torch.float64)[:, None]
    centres = np.linspace(-2, 2, 5)
    h = centres[1] - centres[0]
    ref = np.exp(-(((x.numpy() - centres[None, :]) / h) ** 2))
    np.testing.assert_allclose(basis.features(x)[:, 0].numpy(), ref, rtol=1e-12, atol=1e-14)


# --- polynomial families ---------------------------------------------------------------

def poly_features(name: str, degree: int, u: torch.Tensor, **opts) -> np.ndarray:
    """Features of a 1-input basis at u with the identity pre-map: (n, degree + 1)."""
    basis = get_basis(name)(1, 1, degree=degree, premap="identity", **opts).double()
    return basis.features(u[:, None])[:, 0].numpy()


U = torch.linspace(-1, 1, 101, dtype=torch.float64)


@pytest.mark.parametrize("degree", [1, 4, 9])
def test_chebyshev_matches_numpy(degree):
    ref = np.stack([np.polynomial.chebyshev.chebval(U.numpy(), np.eye(degree + 1)[k]) for k in range(degree + 1)], -1)
    np.testing.assert_allclose(poly_features("chebyshev", degree, U), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("degree", [1, 4, 9])
def test_legendre_matches_numpy(degree):
    ref = np.stack([np.polynomial.legendre.legval(U.numpy(), np.eye(degree + 1)[k]) for k in range(degree + 1)], -1)
    np.testing.assert_allclose(poly_features("legendre", degree, U), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("alpha,beta", [(0.0, 0.0), (1.0, 1.0), (-0.5, 2.5), (3.0, -0.7)])
def test_jacobi_matches_scipy(alpha, beta):
    degree = 7
    ref = np.stack([scipy.special.eval_jacobi(k, alpha, beta, U.numpy()) for k in range(degree + 1)], -1)
    got = poly_features("jacobi", degree, U, alpha=alpha, beta=beta)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("degree,num_points", [(3, 8), (6, 7), (8, 40)])
def test_gram_orthonormal_on_its_points(degree, num_points):
    basis = get_basis("gram")(1, 1, degree=degree, num_points=num_points, premap="identity").double()
    nodes = torch.linspace(-1, 1, num_points, dtype=torch.float64)
    q = basis.features(nodes[:, None])[:, 0]  # (N, n + 1)
    gram_matrix = q.T @ q / num_points
    torch.testing.assert_close(gram_matrix, torch.eye(degree + 1, dtype=torch.float64), rtol=0, atol=1e-10)
    # each q_k has exact degree k: it is not in the span of the lower ones on a dense grid
    dense = basis.features(U[:, None])[:, 0].numpy()
    assert np.linalg.matrix_rank(dense, tol=1e-8) == degree + 1


def test_gram_tends_to_normalised_legendre():
    # discrete orthogonality on many points approaches the continuous (Legendre) one
    got = poly_features("gram", 4, U, num_points=4000)
    ref = np.stack([math.sqrt(2 * k + 1) * np.polynomial.legendre.legval(U.numpy(), np.eye(5)[k])
                    for k in range(5)], -1)
    np.testing.assert_allclose(got, ref, atol=2e-2)


@pytest.mark.parametrize("degree", [1, 2, 5, 10])
def test_bernstein_nonnegative_partition_of_unity(degree):
    feats = poly_features("bernstein", degree, U)
    assert feats.shape == (101, degree + 1)
    assert feats.min() >= 0
    np.testing.assert_allclose(feats.sum(-1), 1.0, rtol=0, atol=1e-12)
    # the binomial form itself on t = (u + 1)/2 — guards against a constant-1 basis
    t = (U.numpy() + 1) / 2
    ref = np.stack([scipy.special.comb(degree, k) * t ** k * (1 - t) ** (degree - k) for k in range(degree + 1)], -1)
    np.testing.assert_allclose(feats, ref, rtol=1e-10, atol=1e-12)
    assert np.ptp(feats[:, 0]) > 0.99  # B_{0,n} falls from 1 at t=0 to 0 at t=1


def test_bernstein_default_premap_stays_in_unit_interval():
    basis = get_basis("bernstein")(2, 1, degree=4).double()  # tanh pre-map
    x = inputs(200, 2, scale=20.0)
    feats = basis.features(x)
    assert feats.min() >= 0
    torch.testing.assert_close(feats.sum(-1), torch.ones(200, 2, dtype=torch.float64))


@pytest.mark.parametrize("name", ["chebyshev", "legendre", "jacobi", "gram", "bernstein"])
def test_polynomial_premaps(name):
    cls = get_basis(name)
    assert cls(2, 1).options["premap"] == "tanh"
    x = inputs(50, 2, scale=3.0)
    tanh_basis = cls(2, 1, degree=3).double()
    ident_basis = cls(2, 1, degree=3, premap="identity").double()
    torch.testing.assert_close(tanh_basis.features(x), ident_basis.features(torch.tanh(x)))
    # min-max: construction leaves the running range untouched; training-mode calls adapt it
    mm = cls(2, 1, degree=3, premap="minmax").double()
    assert int(mm.premap.num_batches) == 0
    data = torch.stack([torch.linspace(2, 6, 50), torch.linspace(-9, -1, 50)], 1).double()
    mm.train()
    mm.features(data)
    torch.testing.assert_close(mm.premap.running_min, torch.tensor([2.0, -9.0], dtype=torch.float64))
    torch.testing.assert_close(mm.premap.running_max, torch.tensor([6.0, -1.0], dtype=torch.float64))
    mm.eval()
    u = mm.premap(data)
    torch.testing.assert_close(u[[0, -1]], torch.tensor([[-1.0, -1.0], [1.0, 1.0]], dtype=torch.float64))
    lo, hi = mm.domain()
    torch.testing.assert_close(lo, torch.tensor([2.0, -9.0], dtype=torch.float64))
    torch.testing.assert_close(hi, torch.tensor([6.0, -1.0], dtype=torch.float64))


@pytest.mark.parametrize("name", ["chebyshev", "legendre", "gram", "jacobi", "bernstein", "fourier"])
def test_minmax_range_is_a_grid(name):
    cls = get_basis(name)
    assert not cls(2, 3).supports_grid_update  # tanh / identity: nothing to move
    basis = cls(2, 3, premap="minmax", generator=gen(0)).double()
    assert basis.supports_grid_update
    first = torch.stack([torch.linspace(-1.5, 1.2, 64), torch.linspace(-0.5, 2.5, 64)], 1).double()
    basis.features(first)  # the first training batch sets the range ...
    basis.features(3 * first)  # ... later ones do not move it (momentum 0)
    torch.testing.assert_close(basis.premap.running_max, torch.tensor([1.2, 2.5], dtype=torch.float64))
    twin = copy.deepcopy(basis)  # keeps the old range and curves
    inner = torch.stack([torch.linspace(-1, 1, 200), torch.linspace(0, 2, 200)], 1).double()
    basis.update_grid(inner)
    torch.testing.assert_close(basis.premap.running_min, torch.tensor([-1.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(basis.premap.running_max, torch.tensor([1.0, 2.0], dtype=torch.float64))
    # on the data the curves are kept: a polynomial of an affine map of u is a polynomial
    # of the same degree (Fourier: close, not exact)
    old = twin.edge_activations(inner)
    tol = 1e-3 if name != "fourier" else 5e-2
    torch.testing.assert_close(basis.edge_activations(inner), old, rtol=0, atol=tol * old.std().item())


@pytest.mark.parametrize("name,new_size", [("chebyshev", 9), ("legendre", 9), ("gram", 9), ("jacobi", 9),
                                           ("bernstein", 9), ("fourier", 8)])
def test_global_bases_refine_keeps_curves(name, new_size):
    basis = get_basis(name)(2, 3, generator=gen(0)).double()
    x = inputs(300, 2)
    before = basis.edge_activations(x)
    basis.refine(new_size, x)
    assert basis.config()[basis.size_option] == new_size
    assert basis.coef.shape == (3, 2, basis.num_features)
    # higher degrees span the old polynomials (exact up to the ridge of the refit)
    tol = 2e-3 if name != "fourier" else 1e-2
    torch.testing.assert_close(basis.edge_activations(x), before, rtol=0, atol=tol * before.std().item())
    again = get_basis(name)(2, 3, **basis.config()).double()
    again.load_state_dict(basis.state_dict())
    torch.testing.assert_close(again.edge_activations(x), basis.edge_activations(x), rtol=0, atol=0)


@pytest.mark.slow
def test_minmax_kan_trains_with_range_updates(exp_sin_data):
    X, y = exp_sin_data[0][:300], exp_sin_data[1][:300]
    from symkan.train import fit
    model = KAN([2, 3, 1], basis="legendre", premap="minmax", degree=4, seed=0)
    assert model.supports_grid_update
    hist = fit(model, X, y, steps=10, update_grid_every=5)
    assert hist.train_loss[-1] < 0.05 * hist.train_loss[0]
    model.eval()
    with torch.no_grad():
        before = model(X)
        model.update_grid(X)  # every layer's range moves to the activations it sees
        hidden = model.layers[0](X)
        torch.testing.assert_close(model.layers[1].basis.premap.running_min, hidden.min(0).values)
        torch.testing.assert_close(model.layers[1].basis.premap.running_max, hidden.max(0).values)
        # hidden values that had drifted past the old range were clamped there; the
        # refit smooths those kinks, so the function is kept closely but not exactly
        assert (model(X) - before).abs().mean() < 0.05 * before.std()


def test_minmax_premap_survives_subset():
    basis = get_basis("chebyshev")(3, 2, degree=3, premap="minmax").double()
    data = torch.stack([torch.linspace(0, 1, 20), torch.linspace(5, 9, 20), torch.linspace(-3, 3, 20)], 1).double()
    basis.features(data)  # training mode: records the ranges
    basis.eval()
    sub = basis.subset([1], [2, 0]).eval()
    torch.testing.assert_close(sub.premap.running_min, torch.tensor([-3.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(sub.edge_activations(data[:, [2, 0]]), basis.edge_activations(data)[:, [1]][:, :, [2, 0]])


# --- Fourier ------------------------------------------------------------------------------

def test_fourier_features_closed_form():
    basis = get_basis("fourier")(1, 1, num_frequencies=3, omega=1.3, include_constant=True).double()
    x = torch.linspace(-2, 2, 41, dtype=torch.float64)[:, None]
    xs = x[:, 0].numpy()
    ref = [np.ones_like(xs)]
    for k in (1, 2, 3):
        ref += [np.cos(k * 1.3 * xs), np.sin(k * 1.3 * xs)]
    np.testing.assert_allclose(basis.features(x)[:, 0].numpy(), np.stack(ref, -1), rtol=1e-12, atol=1e-12)
    assert get_basis("fourier")(1, 1, num_frequencies=3).num_features == 6  # no constant by default


# --- wavelets ----------------------------------------------------------------------------

def mexican_hat_ref(z):
    return 2.0 / (np.sqrt(3.0) * np.pi ** 0.25) * (1 - z ** 2) * np.exp(-z ** 2 / 2)


def morlet_ref(z, w0=5.0):
    return np.cos(w0 * z) * np.exp(-z ** 2 / 2)


def dog_ref(z):
    return -z * np.exp(-z ** 2 / 2)


@pytest.mark.parametrize("name,ref", [("mexican_hat", mexican_hat_ref), ("morlet", morlet_ref), ("dog", dog_ref)])
def test_wavelets_match_closed_forms(name, ref):
    layer = make_layer(name, n_in=2, n_out=3, num_wavelets=3)
    basis = layer.basis
    g = gen(7)
    with torch.no_grad():  # move away from the symmetric init so every parameter matters
        basis.translation.add_(0.3 * torch.randn(basis.translation.shape, generator=g, dtype=torch.float64))
        basis.scale_raw.add_(0.3 * torch.randn(basis.scale_raw.shape, generator=g, dtype=torch.float64))
    x = inputs(25, 2, scale=1.5)
    w = basis.weight.detach().numpy()
    t = basis.translation.detach().numpy()
    s = np.log1p(np.exp(basis.scale_raw.detach().numpy())) + 1e-3  # softplus + MIN_SCALE
    z = (x.numpy()[:, None, :, None] - t[None]) / s[None]
    expected = (w[None] * ref(z)).sum(-1)  # (batch, out, in)
    np.testing.assert_allclose(basis.edge_activations(x).detach().numpy(), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(basis(x).detach().numpy(), expected.sum(-1), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["mexican_hat", "morlet", "dog"])
def test_wavelet_chunked_forward_and_backward(name):
    layer = make_layer(name, n_in=3, n_out=7, num_wavelets=2)
    x = inputs(6, 3).requires_grad_()
    y_full = layer(x)
    g_full = torch.autograd.grad(y_full.pow(2).sum(), [x] + list(layer.basis.parameters()))
    layer.basis.max_chunk_elements = 6 * 3 * 2 * 2  # two outputs per chunk, last chunk ragged
    y_chunk = layer(x)
    g_chunk = torch.autograd.grad(y_chunk.pow(2).sum(), [x] + list(layer.basis.parameters()))
    torch.testing.assert_close(y_chunk, y_full, rtol=1e-13, atol=1e-13)
    for a, b in zip(g_chunk, g_full):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    params = tuple(layer.parameters())
    assert torch.autograd.gradcheck(lambda x_, *_: layer(x_), (x,) + params, eps=1e-6, atol=1e-5)


def test_wavelet_scales_stay_positive():
    basis = get_basis("dog")(2, 2, num_wavelets=2).double()
    with torch.no_grad():
        basis.scale_raw.fill_(-1e4)
    assert torch.all(basis.scale > 0)
    assert torch.isfinite(basis(inputs(5, 2))).all()


# --- bad options ---------------------------------------------------------------------------

@pytest.mark.parametrize("name,opts,match", [
    ("chebyshev", {"degree": -1}, "degree"),
    ("legendre", {"degree": 0}, "degree"),
    ("bernstein", {"degree": 0}, "degree"),
    ("gram", {"degree": 2.5}, "degree"),
    ("chebyshev", {"premap": "sigmoid"}, "premap"),
    ("fourier", {"premap": "nope"}, "premap"),
    ("jacobi", {"alpha": -1.0}, "alpha"),
    ("jacobi", {"beta": float("nan")}, "beta"),
    ("gram", {"degree": 5, "num_points": 5}, "num_points"),
    ("rbf", {"num_centers": 1}, "num_centers"),
    ("rbf", {"grid_range": (1.0, -1.0)}, "grid_range"),
    ("fourier", {"omega": 0.0}, "omega"),
    ("fourier", {"num_frequencies": 0}, "num_frequencies"),
    ("morlet", {"omega0": -2.0}, "omega0"),
    ("mexican_hat", {"num_wavelets": 0}, "num_wavelets"),
    ("bspline", {"grid_size": -3}, "grid_size"),
])
def test_bad_basis_options_raise(name, opts, match):
    with pytest.raises(ValueError, match=match):
        get_basis(name)(2, 3, **opts)
    with pytest.raises(ValueError, match=match):
        KAN([2, 3, 1], basis=name, **opts)


def test_unknown_basis_raises():
    with pytest.raises(ValueError, match="unknown basis 'splines'"):
        get_basis("splines")
    with pytest.raises(ValueError, match="unknown basis"):
        KAN([2, 1], basis="splines")

