"""The hand-written loss and gradients (symkan.analytic_backward) and the NumPy L-BFGS
(symkan.lbfgs): both against their torch references."""
import math

import numpy as np
import pytest
import torch

from symkan.analytic_backward import AnalyticObjective, supports
from symkan.lbfgs import FlatLBFGS
from symkan.nn import KAN
from symkan.regularize import sparsity_penalty
from symkan.sample_weights import torch_mean_square
from symkan.train import fit

WIDTHS = ([2, 5, 1], [3, [2, 2], 1], [2, 2, [0, [2]]], [3, [4, 1], 2, 1], [3, [0, [3]], 1], [2, 3, 2])


def _reference(model, X, y, w, lamb):
    """Loss and parameter gradients by autograd (fit's reference path)."""
    trace = model.trace(X)
    mse = torch_mean_square(trace.output - y, w)
    total = mse + lamb * sparsity_penalty(trace) if lamb > 0 else mse
    params = list(model.parameters())
    grads = torch.autograd.grad(total, params, allow_unused=True)
    return total.detach(), [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


@pytest.mark.parametrize("width", WIDTHS, ids=str)
@pytest.mark.parametrize("lamb", [0.0, 0.01])
@pytest.mark.parametrize("masked_and_weighted", [False, True])
def test_loss_and_gradients_equal_autograd(width, lamb, masked_and_weighted):
    gen = torch.Generator().manual_seed(3)
    model = KAN(width, grid_size=4, order=3, seed=1).double()
    X = torch.rand(50, width[0], generator=gen, dtype=torch.float64) * 2.4 - 1.2  # some rows off the grid
    model.update_grid(X[:30])  # non-uniform knots
    n_out = model.specs[-1].n_nodes
    y = torch.randn(50, n_out, generator=gen, dtype=torch.float64)
    w = None
    if masked_and_weighted:
        with torch.no_grad():
            model.layers[0].mask[0, 0] = 0.0
            model.layers[-1].mask[0, -1] = 0.0
        w = torch.rand(50, generator=gen, dtype=torch.float64)
    total_ref, grads_ref = _reference(model, X, y, w, lamb)
    for p in model.parameters():
        p.grad = None
    total, mse, penalty = AnalyticObjective(model, lamb)(X, y, w)
    assert float(total) == pytest.approx(float(total_ref), rel=1e-12, abs=1e-14)
    assert (penalty is None) == (lamb == 0)
    for (name, p), g_ref in zip(model.named_parameters(), grads_ref):
        g = torch.zeros_like(p) if p.grad is None else p.grad
        assert torch.allclose(g, g_ref, rtol=1e-9, atol=1e-12), name


def test_predict_equals_the_forward_and_remembers_only_the_data_features():
    model = KAN([3, 4, 2], seed=0)
    X = torch.rand(40, 3) * 2 - 1
    objective = AnalyticObjective(model)
    assert torch.allclose(objective.predict(X), model(X), atol=1e-6)
    with torch.no_grad():  # new coefficients: the remembered features still give the new output
        model.layers[0].basis.coef.mul_(0.5)
    assert torch.allclose(objective.predict(X), model(X), atol=1e-6)
    model.update_grid(X)  # new knots: the features are computed again
    assert torch.allclose(objective.predict(X), model(X), atol=1e-6)


def test_supports_only_what_it_can_evaluate():
    assert supports(KAN([2, 3, 1], seed=0))
    assert not supports(KAN([2, 3, 1], basis="chebyshev", seed=0))
    fixed = KAN([2, 3, 1], seed=0)
    fixed.layers[0].symbolic.set(0, 0, "sin")
    assert not supports(fixed)
    trainable_knots = KAN([2, 3, 1], seed=0)
    trainable_knots.layers[0].basis.grid.requires_grad_(True)
    assert not supports(trainable_knots)
    assert not supports(torch.nn.Linear(2, 1))
    with pytest.raises(ValueError, match="cannot evaluate"):
        AnalyticObjective(fixed)


# --- the L-BFGS --------------------------------------------------------------------------
def _rosenbrock(v: torch.Tensor) -> torch.Tensor:
    return (1 - v[0::2]).pow(2).sum() + 100 * (v[1::2] - v[0::2].pow(2)).pow(2).sum()


def test_flat_lbfgs_follows_torch_lbfgs_on_rosenbrock():
    """The same algorithm as torch.optim.LBFGS(line_search_fn="strong_wolfe"): the same
    iterates, step after step, in float64."""
    start = torch.tensor([-1.2, 1.0, 0.5, -0.3, 1.5, 2.0], dtype=torch.float64)
    ours = start.clone().requires_grad_()
    ours.grad = torch.zeros_like(ours)
    theirs = start.clone().requires_grad_()
    opt_ours = FlatLBFGS(ours, max_iter=5)
    opt_theirs = torch.optim.LBFGS([theirs], max_iter=5, history_size=10, line_search_fn="strong_wolfe",
                                   tolerance_grad=1e-32, tolerance_change=1e-32)

    def closure_ours():
        ours.grad.zero_()
        loss = _rosenbrock(ours)
        ours.grad.copy_(torch.autograd.grad(loss, ours)[0])
        return loss.detach()

    def closure_theirs():
        opt_theirs.zero_grad()
        loss = _rosenbrock(theirs)
        loss.backward()
        return loss

    for step in range(20):
        opt_ours.step(closure_ours)
        opt_theirs.step(closure_theirs)
        if step < 8:  # later, round-off (NumPy's and torch's dot products) grows apart
            assert torch.allclose(ours.detach(), theirs.detach(), rtol=1e-8, atol=1e-10)
    assert float(_rosenbrock(ours.detach())) < 1e-8


def test_flat_lbfgs_backs_off_from_a_non_finite_loss():
    """A trial step into a region where the loss is not finite is shortened, not followed."""
    v = torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
    v.grad = torch.zeros_like(v)

    def closure():
        # minimum at 0.9, undefined (NaN) from 1 on; the first trial step (t = 1) lands past it
        x = float(v.detach())
        loss = (x - 0.9) ** 2 if x < 1.0 else math.nan
        v.grad.fill_(2 * (x - 0.9) if x < 1.0 else math.nan)
        return torch.tensor(loss, dtype=torch.float64)

    opt = FlatLBFGS(v, lr=10.0, max_iter=10)
    for _ in range(3):
        opt.step(closure)
    assert float(v.detach()) == pytest.approx(0.9, abs=1e-6)


def test_flat_lbfgs_refuses_what_it_cannot_drive():
    with pytest.raises(ValueError, match="CPU"):
        FlatLBFGS(torch.zeros(3, dtype=torch.int64))


# --- fit on the fast path --------------------------------------------------------------------
def _data():
    gen = torch.Generator().manual_seed(0)
    X = torch.rand(200, 2, generator=gen, dtype=torch.float64) * 2 - 1
    y = torch.exp(torch.sin(math.pi * X[:, :1]) + X[:, 1:] ** 2)
    return X, y


@pytest.mark.slow
@pytest.mark.parametrize("lamb", [0.0, 1e-3])
def test_fit_on_the_hand_written_path_matches_autograd(lamb):
    """Same optimiser, gradients from either path: one step agrees to round-off; longer
    fits (with grid updates) drift apart only slowly, as LBFGS amplifies round-off, and
    both learn the function."""
    X, y = _data()
    for steps, rel in ((1, 1e-8), (6, 5e-2)):
        losses = []
        for analytic in (True, False):
            model = KAN([2, 3, 1], seed=0).double()
            history = fit(model, X, y, steps=steps, lamb=lamb, update_grid_every=3, analytic=analytic)
            losses.append(history.train_loss[-1])
        assert losses[0] == pytest.approx(losses[1], rel=rel)
    assert losses[0] < 1e-2 * float(y.var())


@pytest.mark.slow
def test_fit_on_the_fast_path_is_deterministic_and_adam_works():
    X, y = _data()
    runs = []
    for _ in range(2):
        model = KAN([2, [2, 1], 1], seed=0)
        fit(model, X.float(), y.float(), steps=4, lamb=1e-3, val_fraction=0.2)
        runs.append(torch.cat([p.detach().reshape(-1) for p in model.parameters()]))
    assert torch.equal(runs[0], runs[1])
    model = KAN([2, 3, 1], seed=0)
    history = fit(model, X.float(), y.float(), steps=30, optimizer="adam", lr=0.02)
    assert history.train_loss[-1] < history.train_loss[0]
    assert np.isfinite(history.train_loss).all()
