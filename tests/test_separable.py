"""Alternating least squares for separable product networks (symkan.discovery.separable)."""
import math

import pytest
import torch

from symkan import KAN
from symkan.discovery.separable import als_init, is_separable_product


def _separable(d, seed=0, basis="bspline"):
    model = KAN([d, [0, [d]], 1], basis=basis, seed=seed)
    with torch.no_grad():
        model.layers[0].mask.copy_(torch.eye(d))
    return model


def _data(n=600, seed=0):
    """−x·y·cos z on [1, 5]³, standardised like the regressor does: cos z crosses zero."""
    g = torch.Generator().manual_seed(seed)
    raw = 1 + 4 * torch.rand(n, 3, generator=g, dtype=torch.float64)
    y = -raw[:, 0] * raw[:, 1] * torch.cos(raw[:, 2])
    X = (raw - raw.mean(0)) / raw.std(0)
    return X.float(), ((y - y.mean()) / y.std()).float()[:, None]


@pytest.mark.slow
def test_als_fits_a_product_whose_factor_crosses_zero():
    X, y = _data()
    model = _separable(3)
    nmse = als_init(model, X, y)
    with torch.no_grad():
        direct = float(((model(X) - y) ** 2).mean() / y.var())
    assert nmse < 1e-5
    assert math.isclose(nmse, direct, rel_tol=1e-3, abs_tol=1e-9)  # the network itself, not an internal number


@pytest.mark.slow
def test_als_is_deterministic_and_leaves_global_rng_alone():
    X, y = _data()
    state = torch.random.get_rng_state()
    a, b = _separable(3), _separable(3)
    als_init(a, X, y, seed=3)
    als_init(b, X, y, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(p, q), name
    assert torch.equal(a.layers[0].basis.grid, b.layers[0].basis.grid)


def test_non_separable_networks_are_rejected():
    X, y = _data()
    dense = KAN([3, [0, [3]], 1], seed=0)  # every factor sees every input
    assert not is_separable_product(dense)
    assert not is_separable_product(KAN([3, 2, 1], seed=0))
    with pytest.raises(ValueError, match="identity first-layer mask"):
        als_init(dense, X, y)


@pytest.mark.slow
def test_als_works_for_another_feature_basis():
    X, y = _data()
    model = _separable(3, basis="chebyshev")
    assert is_separable_product(model)
    assert als_init(model, X, y) < 1e-3  # tanh pre-map: no grid to move, still close
