"""Snapping's choices on networks with known numeric edges: retries of the next candidates,
the zero rule, scale-invariant selection, every basis, the formula's self-check, the
joint refit's failures, constants within the noise, formulas past their deadline.
(fix / unfix / suggest / composition: test_symbolic_snap.py.)"""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
import torch

from symkan.nn import KAN
from symkan.symbolic import auto_snap, model_formula

from snap_networks import _symbolic_net, _x


# --- selection and retries on networks with known numeric edges ------------------------------
def _numeric_net(n_in, shapes, X, grid_size=10):
    """A [n_in, 1] KAN without the residual branch whose numeric edge i is fitted (least
    squares on X) to ``shapes[i](x_i)``; edges not in ``shapes`` are masked. No training."""
    m = KAN([n_in, 1], seed=0, residual=False, grid_size=grid_size)
    layer = m.layers[0]
    target = torch.zeros(X.shape[0], 1, n_in)
    for i, f in shapes.items():
        target[:, 0, i] = f(X[:, i])
    layer.basis.fit_coefficients(X, target)
    with torch.no_grad():
        for i in range(n_in):
            if i not in shapes:
                layer.mask[0, i] = 0.0
    return m


def test_retry_of_the_next_candidates_fires_and_lowers_the_loss():
    """Noisy data (accuracy floor 1e-3) and complexity weight 3: by edge score the linear
    stand-in x beats sin for sin(πx) (x: log10(0.39) + 3 ≈ 2.6 < sin: −3 + 2·3 = 3), but its
    whole-network loss is far above the numeric network's. The retry must try the next
    candidates, judge them by the network loss and keep sin."""
    X = _x(400, 1)
    m = _numeric_net(1, {0: lambda x: torch.sin(math.pi * x)}, X)
    noise = 0.05 * torch.randn(400, generator=torch.Generator().manual_seed(3))
    y = m(X).detach()[:, 0] + noise
    res = auto_snap(m, X, y, functions=["x", "x^2", "sin"], complexity_weight=3.0, polish=False, formula=False)
    choice = res.choice(0, 0, 0)
    assert choice.candidates[0].name == "x"  # the edge-level first choice ...
    assert choice.name == "sin"  # ... was replaced by the whole-network judgement
    stages = dict(res.history)
    assert "layer 0 retry 1" in stages
    assert stages["layer 0"] > 50 * res.loss_numeric  # the first choice was wrong by network loss
    assert stages["layer 0 retry 1"] < 1.1 * res.loss_numeric < 0.05 * stages["layer 0"]
    assert res.loss_snapped <= 1.05 * res.loss_numeric


def test_retry_does_not_fire_when_the_first_choice_is_good():
    """Same data at the default weight: sin is the first choice, the loss is within
    retry_tol of the numeric network's, so no retry stage is recorded."""
    X = _x(400, 1)
    m = _numeric_net(1, {0: lambda x: torch.sin(math.pi * x)}, X)
    y = m(X).detach()[:, 0] + 0.05 * torch.randn(400, generator=torch.Generator().manual_seed(3))
    res = auto_snap(m, X, y, functions=["x", "x^2", "sin"], polish=False, formula=False)
    assert res.choice(0, 0, 0).candidates[0].name == "sin"
    assert not any("retry" in stage for stage, _ in res.history)


@pytest.mark.parametrize("weight", [1.0, 3.0, 10.0])
def test_zero_never_wins_on_a_significant_edge(weight):
    """x0² carries most of the node, 0.05·sin(3·x1) about 1.4 % of it (significant), and
    1e-6·sin(3·x2) nothing (dead). Without retries or polishing (so selection alone
    decides), the small real edge is never snapped to 0 at any complexity weight — the
    audit probe snapped sin(3x) to 0 at weight 10 — while the dead edge still becomes 0."""
    X = _x(200, 3, seed=1)
    m = _numeric_net(3, {0: lambda x: x ** 2, 1: lambda x: 0.05 * torch.sin(3 * x),
                         2: lambda x: 1e-6 * torch.sin(3 * x)}, X)
    res = auto_snap(m, X, complexity_weight=weight, max_retries=0, polish=False, formula=False, refit_steps=30)
    small = res.choice(0, 1, 0)
    assert small.name != "0" and all(c.name != "0" for c in small.candidates)
    if weight == 1.0:
        assert small.name in ("sin", "cos")
    assert res.choice(0, 2, 0).name == "0"
    if weight <= 3.0:  # (at larger weights x² itself gives way to x: that is what w means)
        assert res.choice(0, 0, 0).name == "x^2"
        var_y = float(m(X).detach().var())
        assert res.loss_snapped < 1e-3 * var_y  # the small edge's contribution is kept


def test_zero_rule_is_capped_at_any_weight():
    """selection_scores: "0" is admissible exactly when the edge's share of its node is at
    most floor·10^min(w, 1); a share above 10·floor never is, whatever the weight."""
    from symkan.symbolic.fitting import fit_edges
    from symkan.symbolic.select import ZERO_WEIGHT_CAP, selection_scores

    x = torch.linspace(-1, 1, 200, dtype=torch.float64)[None].repeat(5, 1)
    shares = torch.tensor([1e-9, 5e-7, 5e-6, 1e-3, 0.5], dtype=torch.float64)
    y = torch.sin(3 * x) * shares.sqrt()[:, None] / torch.sin(3 * x[0]).std(unbiased=False)
    fits = fit_edges(x, y, ["x", "sin"])
    k0 = fits.names.index("0")
    floor = 1e-7
    for w in (0.0, 0.5, 1.0, 2.0, 7.0, 10.0, 100.0):
        s = selection_scores(fits, torch.ones(5, dtype=torch.float64), complexity_weight=w, floor=floor)
        allowed = torch.isfinite(s[:, k0])
        limit = floor * 10 ** min(w, ZERO_WEIGHT_CAP)
        assert torch.equal(allowed, shares <= limit * (1 + 1e-9)), (w, allowed)
        assert not bool(allowed[3:].any())  # shares 1e-3 and 0.5 are significant at every weight
        winners = s.argmin(1)
        assert not bool((winners[3:] == k0).any())


def test_selection_criterion_is_scale_invariant():
    """selection_scores depends on an edge's values only through R² and its share of its
    node: scaling the edge values and the node by k (variances by k²) changes nothing."""
    from symkan.symbolic.fitting import EdgeFits, fit_edges
    from symkan.symbolic.select import selection_scores

    x = torch.linspace(-1, 1, 200, dtype=torch.float64)[None].repeat(3, 1)
    y = torch.stack([torch.sin(2 * x[0]), x[1] ** 2 + 0.1 * x[1], 1e-6 * torch.cos(x[2])])
    fits = fit_edges(x, y, ["x", "x^2", "sin", "exp"])
    node = torch.tensor([1.0, 0.3, 1.0], dtype=torch.float64)
    for w in (0.3, 1.0, 10.0):
        ref = selection_scores(fits, node, complexity_weight=w)
        for k in (1e-3, 1e3):
            scaled = EdgeFits(fits.functions, fits.params, fits.r2, fits.variance * k ** 2, fits.constant_input)
            got = selection_scores(scaled, node * k ** 2, complexity_weight=w)
            assert torch.equal(torch.isfinite(got), torch.isfinite(ref))
            fin = torch.isfinite(ref)
            torch.testing.assert_close(got[fin], ref[fin], rtol=0, atol=1e-12)


def _scale_case():
    g = torch.Generator().manual_seed(5)
    x = -1.5 + 3 * torch.rand(5, 300, generator=g, dtype=torch.float64)
    y = torch.stack([
        2.0 * torch.sin(1.7 * x[0] + 0.3),
        torch.exp(0.8 * x[1]) - 1.0,
        torch.tanh(2 * x[2]) + 0.01 * x[2] ** 3,  # no exact candidate: a real trade-off
        1.5 * torch.exp(-(0.8 * x[3] - 0.2) ** 2),
        1e-5 * torch.sin(x[4]),  # dead next to its node
    ])
    scale = torch.tensor([2.0, 1.0, 1.0, 0.5, 1.0], dtype=torch.float64)
    funcs = ["x", "x^2", "x^3", "sin", "cos", "exp", "tanh", "log", "sqrt", "gaussian"]
    return x, y, scale, funcs


def _scale_table(x, values, node_scale, funcs):
    from symkan.symbolic.fitting import fit_edges
    from symkan.symbolic.select import candidates_for, ranking, selection_scores

    fits = fit_edges(x, values, funcs)
    s = selection_scores(fits, node_scale, complexity_weight=1.0, floor=1e-6)
    order = ranking(s, fits.complexity)
    return s, [candidates_for(fits, s, order, e, 5) for e in range(values.shape[0])]


@pytest.mark.parametrize("factor", [1e-3, 1e3])
def test_candidate_selection_is_scale_invariant(factor):
    """Scaling an edge's values (and so its node) by 1e-3 or 1e3 changes the chosen
    function of no edge (nor which edges become 0); the chosen fit's score and R² are
    unchanged and its c, d scale with the values."""
    x, y, scale, funcs = _scale_case()
    _, ref = _scale_table(x, y, scale, funcs)
    _, got = _scale_table(x, factor * y, factor ** 2 * scale, funcs)
    assert [r.best.name for r in ref] == ["sin", "exp", "tanh", "gaussian", "0"]
    for a, b in zip(got, ref):
        assert a.best.name == b.best.name
        assert a.best.score == pytest.approx(b.best.score, abs=1e-6)
        assert a.best.r2 == pytest.approx(b.best.r2, abs=1e-9)
        assert (a.best.a, a.best.b) == pytest.approx((b.best.a, b.best.b), rel=1e-6, abs=1e-9)
        assert (a.best.c, a.best.d) == pytest.approx((factor * b.best.c, factor * b.best.d), rel=1e-6,
                                                     abs=1e-9 * factor)


@pytest.mark.parametrize("factor", [1e-3, 1e3])
def test_every_candidate_score_is_scale_invariant(factor):
    """Not only the winner: every function's score is unchanged by scaling the values."""
    x, y, scale, funcs = _scale_case()
    ref, _ = _scale_table(x, y, scale, funcs)
    got, _ = _scale_table(x, factor * y, factor ** 2 * scale, funcs)
    assert torch.equal(torch.isfinite(got), torch.isfinite(ref))
    fin = torch.isfinite(ref)
    torch.testing.assert_close(got[fin], ref[fin], rtol=0, atol=1e-3)


# --- every basis, and the formula's self-check ------------------------------------------------
@pytest.mark.slow
def test_auto_snap_smoke_on_every_basis():
    """auto_snap sees only the layer contract: on a tiny [2, 1] of every registered basis
    (two LBFGS steps on x² + sin(2y)) it snaps both edges and gives a finite formula that
    reproduces the snapped network (model_formula verifies that itself)."""
    from symkan.bases import available_bases
    from symkan.train import fit

    X = _x(48, 2, seed=2)
    y = X[:, 0] ** 2 + torch.sin(2 * X[:, 1])
    Xd = X.double().numpy()
    bases = available_bases()
    assert len(bases) >= 10
    for basis in bases:
        m = KAN([2, 1], basis=basis, seed=0)
        fit(m, X, y, steps=2)
        res = auto_snap(m, X, y, names=["u", "v"], functions=["x", "x^2", "sin"], refit_steps=10, polish=False,
                        max_retries=1, formula_options={"simplify": False, "snap": False})
        assert len(res.choices) == 2 and all(c.name in ("x", "x^2", "sin") for c in res.choices), basis
        assert math.isfinite(res.loss_snapped), basis
        f = res.formula
        assert not f.expr.has(sympy.nan, sympy.zoo, sympy.oo), basis
        assert {v.name for v in f.expr.free_symbols} <= {"u", "v"}, basis
        vals = f.evaluate(Xd)
        assert np.all(np.isfinite(vals)), basis
        with torch.no_grad():
            np.testing.assert_allclose(vals, res.model(X.double())[:, 0].numpy(), rtol=1e-6, atol=1e-6)


def test_formula_verification_raises_when_composition_disagrees(monkeypatch):
    """The numeric check is real: if the composed sympy expression does not reproduce the
    snapped network, model_formula raises instead of returning a wrong formula — both
    for a gross error and for a 1e-4 relative one; float-rounding-sized ones pass."""
    from symkan.symbolic import network_formula as formula_module

    m = _symbolic_net([2, 1], {(0, 0, 0): ("sin", (2.0, 0.3, 1.5, 0)), (0, 1, 0): ("x^2", (1, 0, 0.7, 0))})
    X = _x(100, 2).double()
    y = m.double()(X).detach()
    honest = formula_module.compose

    def perturbed(factor, shift=0.0):
        def compose(*args, **kwargs):
            return [factor * e + shift for e in honest(*args, **kwargs)]
        return compose

    assert model_formula(m, names=["a", "b"], X=X, y=y).loss < 1e-20  # honest composition passes
    for bad in (perturbed(1.0, shift=1.0), perturbed(-1.0), perturbed(1.0 + 1e-4)):
        monkeypatch.setattr(formula_module, "compose", bad)
        with pytest.raises(RuntimeError, match="does not reproduce the snapped network"):
            model_formula(m, names=["a", "b"], X=X, y=y)
        with pytest.raises(RuntimeError, match="does not reproduce"):  # also without data (probe points)
            model_formula(m, names=["a", "b"])
    monkeypatch.setattr(formula_module, "compose", perturbed(1.0 + 1e-12))
    assert model_formula(m, names=["a", "b"], X=X, y=y, snap=False) is not None
    # through auto_snap as well
    monkeypatch.setattr(formula_module, "compose", perturbed(1.0, shift=0.5))
    with pytest.raises(RuntimeError, match="does not reproduce"):
        auto_snap(m, X, y, names=["a", "b"], functions=["x", "x^2", "sin"], refit_steps=5, polish=False)


def test_joint_refit_survives_a_line_search_that_breaks(monkeypatch):
    """torch's strong-Wolfe search can raise IndexError after a non-finite trial loss:
    the refit keeps a valid state instead of ending the whole snap."""
    from symkan.symbolic.refit import joint_refit, mse

    X = _x(200, 1).double()
    net = _symbolic_net([1, 1], {(0, 0, 0): ("sin", (2.0, 0.1, 1.0, 0.0))}).double()
    y = (1.5 * torch.sin(2.0 * X + 0.1)).double()
    before = mse(net, X, y)

    def broken_step(self, closure):
        closure()
        with torch.no_grad():  # a wild trial point, then torch's empty-bracket failure
            for group in self.param_groups:
                for p in group["params"]:
                    p.add_(float("nan"))
        raise IndexError("list index out of range")

    monkeypatch.setattr(torch.optim.LBFGS, "step", broken_step)
    # torch's LBFGS runs where the NumPy one cannot (parameters off the CPU): force it here
    monkeypatch.setattr("symkan.symbolic.refit.flat_lbfgs_usable", lambda flat: False)
    loss = joint_refit(net, X, y, max_iter=5)
    assert math.isfinite(loss) and loss == pytest.approx(before)
    assert all(torch.isfinite(p).all() for p in net.parameters())


def test_fit_reports_a_broken_line_search_as_divergence(monkeypatch):
    from symkan import fit

    X = _x(64, 2)
    y = X.sum(1, keepdim=True)
    net = KAN([2, 1], seed=0)

    def broken_step(self, closure):
        closure()
        raise IndexError("list index out of range")

    monkeypatch.setattr(torch.optim.LBFGS, "step", broken_step)
    # torch's LBFGS drives what the NumPy one cannot (parameters off the CPU): force it here
    monkeypatch.setattr("symkan.train.flat_lbfgs_usable", lambda flat: False)
    with pytest.raises(FloatingPointError, match="diverged"):
        fit(net, X, y, steps=2, progress=False)


def test_constants_the_expression_is_linear_in_are_told_apart():
    from symkan.symbolic.constants import ConstantFit

    t = sympy.Symbol("t")
    X = np.linspace(0.5, 2.0, 50)[:, None]
    fit = ConstantFit(0.4 * sympy.exp(-0.5 * t ** 2) + 0.1, [t], X, np.exp(-X[:, 0] ** 2))
    by_value = {round(float(v), 3): lin for v, lin in zip(fit.values, fit.linear_constants())}
    assert by_value == {0.4: True, -0.5: False, 0.1: True}


def test_on_noisy_data_the_form_is_snapped_before_the_amplitude():
    """0.3994·exp(−0.5007θ²) on σ = 0.01 data: 2/5 and −1/2 each cost nothing the noise
    could tell; the exponent goes first, so it is not left compensating a snapped 2/5."""
    from symkan.datasets import make_dataset
    from symkan.symbolic.constants import ConstantFit

    data = make_dataset("I.6.2a", n=1000, noise=0.01, seed=0, n_test=1000)  # nearest first fails on this draw
    t = sympy.Symbol("theta")
    fit = ConstantFit(0.4 * sympy.exp(-0.5 * t ** 2), [t], data.X, data.y)
    fit.snap()
    expr = fit.expression()
    exponent = [a for a in sympy.preorder_traversal(expr) if isinstance(a, sympy.exp)][0].args[0]
    assert sympy.simplify(exponent + t ** 2 / 2) == 0, expr


def test_a_dropped_constant_changes_the_form_the_others_are_snapped_in():
    """exp(−(aθ + b)²) with b dropped is exp(−a²θ²): a = 0.7079 has no simple value, a² = 1/2 has."""
    from symkan.datasets import make_dataset
    from symkan.discovery.spaces import user_formula

    data = make_dataset("I.6.2a", n=1000, noise=0.01, seed=0, n_test=1000)
    t = sympy.Symbol("theta", positive=True)
    expr = 0.4219 * sympy.exp(-(0.6863 * t + 0.05486) ** 2) - 0.0008
    found = user_formula(expr, [t], ["theta"], None, data.X, data.y)
    theta = sympy.Symbol("theta")
    [exponent] = [a.args[0] for a in sympy.preorder_traversal(found.expr) if isinstance(a, sympy.exp)]
    assert sympy.simplify(exponent + theta ** 2 / 2) == 0, found.expr


def test_a_formula_mapped_past_its_deadline_is_kept_with_its_floats():
    """Past the deadline no snap can be rebuilt; the mapped formula is still returned (as it
    came, floats included), not dropped: a fit at σ = 0.001 ended with no formula at all
    when every log-space formula was dropped at the budget's end."""
    import time

    from symkan.discovery.spaces import user_formula

    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, (200, 1))
    y = 0.4219 * np.exp(-(0.6863 * X[:, 0] + 0.05486) ** 2)
    t = sympy.Symbol("theta", positive=True)
    expr = 0.4219 * sympy.exp(-(0.6863 * t + 0.05486) ** 2)
    found = user_formula(expr, [t], ["theta"], None, X, y, deadline=time.monotonic() - 1.0)
    assert found is not None and found.expr.atoms(sympy.Float)
    assert found.loss < 1e-20
