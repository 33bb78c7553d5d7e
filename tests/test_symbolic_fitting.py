"""Batched edge fitting: known parameters, domains, chunking, bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from symkan.functions.library import get_function, register_function
from symkan.symbolic.fitting import fit_edges, fit_function


def _uniform(n_edges, n, lo, hi, seed=0):
    g = torch.Generator().manual_seed(seed)
    return lo + (hi - lo) * torch.rand(n_edges, n, generator=g, dtype=torch.float64)


# --- fitting ---------------------------------------------------------------------------
def test_recovers_known_parameters():
    x = _uniform(6, 400, -1.0, 1.0)
    x[4] = x[4] * 0.75 + 1.25  # [0.5, 2] for the domain-restricted ones
    x[5] = x[5] * 0.75 + 1.25
    y = torch.stack([
        2.5 * torch.sin(1.7 * x[0] - 0.3) + 0.4,
        -0.7 * torch.exp(1.3 * x[1]) + 2.0,
        3.0 * (x[2] - 0.2) ** 2 - 1.0,
        torch.tanh(3.0 * x[3] + 0.5),
        2.0 * torch.log(x[4] + 0.3) - 1.0,
        -1.5 * torch.sqrt(x[5]) + 0.25,
    ])
    fits = fit_edges(x, y)
    names = fits.names
    expect = [("sin", (1.7, -0.3, 2.5, 0.4)), ("exp", (1.3, 0.0, -0.7, 2.0)), ("x^2", (1.0, -0.2, 3.0, -1.0)),
              ("tanh", (3.0, 0.5, 1.0, 0.0)), ("log", (1.0, 0.3, 2.0, -1.0)), ("sqrt", (1.0, 0.0, -1.5, 0.25))]
    for e, (name, params) in enumerate(expect):
        k = names.index(name)
        assert float(fits.r2[e, k]) > 1 - 1e-12, (name, float(fits.r2[e, k]))
        assert np.allclose(fits.params[e, k].numpy(), params, atol=1e-6), (name, fits.params[e, k])


def test_fit_function_single_edge():
    x = torch.linspace(-2, 2, 300, dtype=torch.float64)
    (a, b, c, d), r2 = fit_function(x, 0.5 * torch.cos(2.0 * x + 0.4) - 1.0, "cos")
    assert r2 > 1 - 1e-12
    assert np.allclose([a, b, c, d], [2.0, 0.4, 0.5, -1.0], atol=1e-6)


def test_domain_restricted_functions_stay_feasible():
    """On inputs crossing 0, log/sqrt/1/x are fitted with the singular point outside the
    data — never NaN, and their arguments stay inside the domain."""
    x = torch.linspace(-1, 1, 200, dtype=torch.float64)[None]
    y = torch.exp(x)
    fits = fit_edges(x, y, ["log", "sqrt", "1/x", "1/sqrt(x)", "arcsin", "arctanh"])
    assert torch.isfinite(fits.params).all()
    for k, fn in enumerate(fits.functions):
        if fn.name == "0" or not math.isfinite(float(fits.r2[0, k])):
            continue
        a, b = (float(v) for v in fits.params[0, k, :2])
        lo, hi = sorted([a * -1.0 + b, a * 1.0 + b])
        assert bool(fn.feasible(torch.tensor(lo), torch.tensor(hi))), fn.name
        assert not math.isnan(float(fits.r2[0, k]))


def test_infeasible_function_is_marked_not_zero():
    """Edges sampled on [-1, 1] whose full observed range (``x_range``: the samples are a
    subset) is wider. On the samples, edge 0 *is* arcsin(0.9x), edge 1 log(x + 1.2) and
    edge 2 sqrt(x + 1.05) — but those arguments would leave the domain on the full range.

    * arcsin / arctanh (domain (-1, 1)): no searched scale maps x in [-1, 50] inside, so
      they are marked infeasible — R² = −inf, finite parameters, never selected — not
      scored 0 (the zero function's honest R² on a varying edge, which stays finite);
    * log / sqrt (one-sided domains) are shifted into the domain over the whole range:
      feasible, finite, their argument inside the domain on all of it, and a worse fit
      than the (now invalid) exact one."""
    from symkan.symbolic.select import candidates_for, ranking, selection_scores

    x = torch.linspace(-1, 1, 200, dtype=torch.float64)[None].repeat(3, 1)
    y = torch.stack([torch.asin(0.9 * x[0]), torch.log(x[1] + 1.2), torch.sqrt(x[2] + 1.05)])
    names = ["arcsin", "arctanh", "log", "sqrt", "x"]
    lo = torch.tensor([-1.0, -1.5, -1.5], dtype=torch.float64)
    hi = torch.tensor([50.0, 1.0, 1.0], dtype=torch.float64)
    inside = fit_edges(x, y, names)  # samples = full range: the exact functions fit
    wide = fit_edges(x, y, names, x_range=(lo, hi))
    k = {n: wide.names.index(n) for n in wide.names}
    assert float(inside.r2[0, k["arcsin"]]) > 1 - 1e-10
    assert float(inside.r2[1, k["log"]]) > 1 - 1e-10 and float(inside.r2[2, k["sqrt"]]) > 1 - 1e-10
    # arcsin / arctanh: infeasible, not zero
    for name in ("arcsin", "arctanh"):
        assert float(wide.r2[0, k[name]]) == -math.inf, name
    assert float(wide.r2[0, k["0"]]) == 0.0 and float(wide.r2[0, k["x"]]) > 0.9
    assert torch.isfinite(wide.params).all() and not torch.isnan(wide.r2).any()
    scores = selection_scores(wide, torch.ones(3, dtype=torch.float64))
    assert math.isinf(float(scores[0, k["arcsin"]])) and math.isinf(float(scores[0, k["arctanh"]]))
    listed = candidates_for(wide, scores, ranking(scores, wide.complexity), 0, k=len(names) + 1)
    assert {c.name for c in listed}.isdisjoint({"arcsin", "arctanh"})
    # log / sqrt: shifted into their domain over the full range
    for e, name in ((1, "log"), (2, "sqrt")):
        fn = get_function(name)
        a, b = (float(v) for v in wide.params[e, k[name], :2])
        arg_lo, arg_hi = sorted([a * float(lo[e]) + b, a * float(hi[e]) + b])
        assert bool(fn.feasible(torch.tensor(arg_lo), torch.tensor(arg_hi))), name
        assert (arg_lo > 0) if name == "log" else (arg_lo >= 0)
        r2 = float(wide.r2[e, k[name]])
        assert 0.9 < r2 < float(inside.r2[e, k[name]]), name


def test_constant_input_edge_is_fitted_only_by_zero():
    """A constant input: only the constant "0" edge is feasible (R² = 1, d = the value);
    every other function is marked infeasible (−inf), never NaN."""
    x = torch.full((1, 50), 3.0, dtype=torch.float64)
    y = torch.full((1, 50), 2.0, dtype=torch.float64)
    fits = fit_edges(x, y)
    assert bool(fits.constant_input[0])
    k0 = fits.names.index("0")
    assert float(fits.r2[0, k0]) == 1.0 and float(fits.params[0, k0, 3]) == 2.0
    others = [k for k in range(len(fits.names)) if k != k0]
    assert torch.isinf(fits.r2[0, others]).all() and (fits.r2[0, others] < 0).all()


def test_chunking_does_not_change_results():
    x = _uniform(12, 96, -1.5, 1.5, seed=3)
    g = torch.Generator().manual_seed(4)
    w = torch.randn(12, 3, generator=g, dtype=torch.float64)
    y = w[:, :1] * torch.sin(2 * x) + w[:, 1:2] * x ** 2 + w[:, 2:] * torch.exp(0.5 * x)
    funcs = ["x", "x^2", "sin", "log", "1/x"]
    big = fit_edges(x, y, funcs)
    # 20 000 elements: sin's 768-point grid is split within one edge, LM into small batches
    small = fit_edges(x, y, funcs, chunk_elements=20_000)
    assert torch.allclose(big.r2, small.r2, rtol=1e-9, atol=1e-12, equal_nan=True)
    fin = torch.isfinite(big.r2)
    assert torch.allclose(big.params[fin], small.params[fin], rtol=1e-7, atol=1e-9)
    assert torch.equal(big.r2.argmax(1), small.r2.argmax(1))


def test_fit_edges_rejects_bad_input():
    x = torch.zeros(2, 10, dtype=torch.float64)
    with pytest.raises(ValueError, match="shape"):
        fit_edges(x, torch.zeros(2, 11))
    with pytest.raises(ValueError, match="finite"):
        fit_edges(x, torch.full((2, 10), float("nan")))
    with pytest.raises(ValueError, match="unknown symbolic function"):
        fit_edges(x, x, ["nope"])
    with pytest.raises(ValueError, match="chunk_elements"):
        fit_edges(x, x, chunk_elements=0)


def test_custom_function_is_fitted(custom_cleanup):
    register_function("softplus2", "log(1+exp(x))", complexity=3)
    x = torch.linspace(-2, 2, 300, dtype=torch.float64)[None]
    y = 2.0 * torch.nn.functional.softplus(1.5 * x - 0.5) + 0.1
    fits = fit_edges(x, y, ["x", "softplus2"])
    k = fits.names.index("softplus2")
    assert float(fits.r2[0, k]) > 1 - 1e-10
    assert np.allclose(fits.params[0, k].numpy(), [1.5, -0.5, 2.0, 0.1], atol=1e-5)
