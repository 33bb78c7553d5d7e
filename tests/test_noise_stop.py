"""The search stops at a formula within the noise of noisy data (symkan.discovery.noise)."""
import logging

import numpy as np
import pytest
import sympy

from symkan import SymKANRegressor
from symkan.discovery.context import UserRows
from symkan.discovery.noise import WHITE_SIGMAS, neighbour_correlation, white, within_noise
from symkan.symbolic import Formula

x1, x2 = sympy.symbols("x1 x2")


def _rows(noise: float, seed: int = 0, n: int = 1000):
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 3, (n, 2))
    y = X[:, 0] / (1 + X[:, 1] ** 2)
    y = y + noise * np.sqrt(np.mean(y ** 2)) * rng.standard_normal(n)
    k = int(0.8 * n)
    return UserRows(["x1", "x2"], X[:k], y[:k], X[k:], y[k:])


def _formula(expr, rows: UserRows) -> Formula:
    f = Formula(expr, [x1, x2])
    f.loss = float(np.mean((f.evaluate(rows.X_val) - rows.y_val) ** 2))
    return f


def test_white_noise_is_uncorrelated_between_neighbours_and_a_smooth_error_is_not():
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1, (1000, 3))
    noise = rng.standard_normal(1000)
    assert abs(neighbour_correlation(X, noise)) < WHITE_SIGMAS / np.sqrt(1000)
    assert white(X, noise)
    smooth = np.sin(3 * X[:, 0]) * X[:, 1]
    assert neighbour_correlation(X, smooth) > 0.8 and not white(X, smooth)
    # a smooth error a third of the noise's size (a tenth of its variance) already shows
    assert not white(X, noise + 0.35 * smooth / smooth.std())


def test_neighbour_correlation_of_degenerate_residuals_is_one():
    X = np.zeros((5, 2))
    assert neighbour_correlation(X, np.ones(5)) == 1.0  # constant: cannot be told
    assert neighbour_correlation(np.ones((2, 1)), np.array([0.0, 1.0])) == 1.0  # too few rows
    assert neighbour_correlation(np.ones((4, 1)), np.array([0.0, np.nan, 1.0, 2.0])) == 1.0


def test_the_law_on_noisy_data_is_within_the_noise():
    rows = _rows(0.01)
    var = float(np.var(rows.y_val))
    law = _formula(x1 / (1 + x2 ** 2), rows)
    assert within_noise([law], rows, var) is law
    # ... also against a network as accurate as the noise allows
    assert within_noise([law], rows, var, network_nmse=law.loss / var) is law


def test_a_stand_in_a_fitted_float_or_a_worse_formula_is_not_within_the_noise():
    noisy, exact = _rows(0.01), _rows(0.0)
    stand_in = x1 * sympy.exp(-sympy.Rational(7, 10) * x2 ** 2 / (1 + x2 / 3))  # smooth, closed, wrong
    for rows in (noisy, exact):
        var = float(np.var(rows.y_val))
        assert within_noise([_formula(stand_in, rows)], rows, var) is None
    var = float(np.var(noisy.y_val))
    fitted = _formula(1.0001 * x1 / (1 + x2 ** 2), noisy)  # a float left: not closed
    assert within_noise([fitted], noisy, var) is None
    law = _formula(x1 / (1 + x2 ** 2), noisy)
    assert within_noise([law], noisy, var, network_nmse=0.5 * law.loss / var) is None  # the network is better


@pytest.mark.slow
def test_a_noisy_law_stops_the_search_at_the_first_formula_within_the_noise(caplog):
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 5, (1000, 2))
    y = X[:, 0] * X[:, 1]
    y = y + 0.01 * np.sqrt(np.mean(y ** 2)) * rng.standard_normal(1000)
    with caplog.at_level(logging.INFO, logger="symkan.discovery"):
        model = SymKANRegressor(time_budget=60, random_state=0).fit(X, y)
    assert "within the noise" in caplog.text
    assert sympy.simplify(model.sympy() - sympy.Symbol("x0") * sympy.Symbol("x1")) == 0
    trained = [r for r in caplog.messages if "numeric nmse" in r]
    assert len(trained) < 6  # the ladder did not run to its end


def test_a_networks_error_is_told_from_the_datas_noise():
    """structure_nmse: the share of a network's held-out nmse that is its own error. A
    linear "network" fitted by least squares leaves the noise of a linear law (white) but
    the curvature of a quadratic one (smooth)."""
    import torch

    from symkan.discovery import SearchSettings
    from symkan.discovery.budget import Budget
    from symkan.discovery.context import RungContext
    from symkan.discovery.ladder import Rung
    from symkan.discovery.spaces import make_space
    from symkan.discovery.training import structure_nmse

    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (1000, 2))
    train, val = np.arange(800), np.arange(800, 1000)
    shares = {}
    for name, y in (("noise", X[:, 0] + 0.5 * X[:, 1] + 0.1 * rng.standard_normal(1000)),
                    ("curvature", X[:, 0] + X[:, 1] ** 2)):
        space = make_space("linear", X, y, train, val)
        A = torch.cat([space.X, torch.ones(len(space.X), 1, dtype=space.X.dtype)], 1).double()
        coef = torch.linalg.lstsq(A, space.y.double()).solution
        net = torch.nn.Linear(2, 1).double()
        with torch.no_grad():
            net.weight.copy_(coef[:2].T), net.bias.copy_(coef[2])
        ctx = RungContext(Rung("linear", [2, 1]), space, None, SearchSettings(), Budget())
        shares[name] = structure_nmse(ctx, net, 1.0)
    assert shares["noise"] < 0.15 and shares["curvature"] > 0.8
