"""Peeling the inputs that split off a law of three or more inputs (symkan.discovery.peeling),
with known functions as the oracle."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy

from symkan.discovery import SearchSettings, UserRows, search_table
from symkan.discovery.budget import Budget
from symkan.discovery.one_group import integer_direction, power_group, prefactor_group
from symkan.discovery.peeling import (
    choose_peel,
    peel_errors,
    peel_oracle,
    peel_tolerance,
    peeled_inputs,
    reference_point,
)
from symkan.discovery.searching import may_peel
from symkan.discovery.univariate import monomial


def _rows(f, d=3, n=400, low=1.0, high=3.0, names=None, seed=0) -> UserRows:
    rng = np.random.default_rng(seed)
    X = rng.uniform(low, high, size=(n, d))
    X_val = rng.uniform(low, high, size=(n // 4, d))
    return UserRows(names or [f"x{j}" for j in range(d)], X, f(X), X_val, f(X_val))


def relativistic(X):
    """m₀/√(1 − v²/c²) with v < c: m₀ splits off, v and c do not."""
    return X[:, 0] / np.sqrt(1 - (X[:, 1] / (4 * X[:, 2])) ** 2)


def test_a_factor_and_a_term_are_told_apart_from_inputs_that_do_not_split():
    rows = _rows(relativistic)
    errors = peel_errors(relativistic, rows.X_val, np.median(rows.X, axis=0))
    assert errors[0]["product"] < 1e-12
    assert min(errors[1].values()) > 0.02 and min(errors[2].values()) > 0.02
    assert peeled_inputs(errors) == ("product", [0])

    def sum_law(X):
        return X[:, 0] ** 2 + X[:, 1] * np.sin(X[:, 2])

    rows = _rows(sum_law)
    errors = peel_errors(sum_law, rows.X_val, np.median(rows.X, axis=0))
    assert errors[0]["sum"] < 1e-12 and errors[0]["product"] > 0.02
    assert peeled_inputs(errors) == ("sum", [0])
    # both products and sums split: the factors are peeled (one search of fewer inputs)
    assert peeled_inputs({0: {"sum": 0.0, "product": 0.0}, 1: {"sum": 0.0, "product": 0.5}}) == ("product", [0])
    assert peeled_inputs({0: {"sum": 0.5, "product": 0.5}}) == (None, [])


def test_a_nearly_separable_input_is_not_peeled_with_an_accurate_oracle():
    def rest_energy(X):  # Feynman's ranges: v/c ≤ 2/3, a product in v and c to about 0.01
        return X[:, 0] * X[:, 2] ** 2 / np.sqrt(1 - (X[:, 1] / X[:, 2]) ** 2)

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(1, 5, 300), rng.uniform(1, 2, 300), rng.uniform(3, 10, 300)])
    x0 = np.median(X, axis=0)
    assert choose_peel(rest_energy, X, x0, ["m", "v", "c"], peel_tolerance(3e-6)) == ("", "product", [0])
    assert choose_peel(rest_energy, X, x0, ["m", "v", "c"], peel_tolerance(1e-4)) == ("", "product", [0, 1, 2])
    assert peel_tolerance(0.0) == pytest.approx(1e-3) and peel_tolerance(1.0) == pytest.approx(0.02)


def test_the_reference_point_avoids_a_zero_of_the_law():
    def difference(X):
        return X[:, 0] * (X[:, 2] - X[:, 1])

    rows = _rows(difference)
    middle = np.median(rows.X, axis=0)
    x0 = reference_point(difference, rows)
    assert abs(difference(x0[None])[0]) > 0.3 * np.sqrt(np.mean(rows.y_val ** 2))
    assert any(np.array_equal(x0, r) for r in rows.X_val)  # a held-out row
    # at that point the factor x0 splits off; at the medians (f ≈ 0) nothing can be told
    assert peel_errors(difference, rows.X_val, x0)[0]["product"] < 1e-12
    assert np.array_equal(reference_point(relativistic, _rows(relativistic)), np.median(_rows(relativistic).X, axis=0))
    assert abs(difference(middle[None])[0]) < 0.3 * np.sqrt(np.mean(rows.y_val ** 2))


def test_monomial_cuts_are_recognised_to_the_networks_accuracy():
    x = np.linspace(1, 3, 200)
    assert monomial(x, 2.5 / np.sqrt(x), "product", 1e-8)[0] == Fraction(-1, 2)
    p, scale, offset = monomial(x, 3 * x ** 2 + 7, "sum", 1e-8)
    assert p == 2 and scale == pytest.approx(3) and offset == pytest.approx(7)
    assert monomial(x, 3 * x ** 2 + 7, "product", 1e-8) is None  # a factor has no offset
    assert monomial(x, np.exp(x), "product", 1e-8) is None
    # a network accurate to nmse 1e-4 (1 % rms) lets a monomial through 1 % noise
    noisy = 2 * x * (1 + 0.01 * np.sin(40 * x))
    assert monomial(x, noisy, "product", 1e-4)[0] == 1
    assert monomial(x, noisy, "product", 1e-10) is None


class _Solve:
    """A stand-in for the search of the smaller problem that records what it was given and
    answers with the true core law."""

    def __init__(self, core):
        self.core, self.calls = core, []

    def __call__(self, X, y, names, split, settings, budget=None, final=False):
        from symkan.discovery.searching import SearchResult
        from symkan.pareto import ParetoEntry, ParetoFront
        from symkan.symbolic.formula import Formula
        from symkan.symbolic.names import variable_symbols

        self.calls.append((X, y, names, settings, budget))
        symbols = variable_symbols(names)
        expr = self.core(*symbols)
        formula = Formula(expr, symbols, loss=0.0)
        return SearchResult([], ParetoFront([ParetoEntry(1, 0.0, 0.0, formula)]))


def test_the_smaller_problem_has_the_peeled_inputs_divided_out_and_the_formula_is_composed():
    def law(X):
        return X[:, 0] * (X[:, 1] + np.exp(X[:, 2]))  # v + c² would be c²·(1 + v/c²): one group

    rows = _rows(law, names=["m", "v", "c"])
    solve = _Solve(lambda v, c: v + sympy.exp(c))
    budget = Budget(seconds=30)
    found = peel_oracle(law, rows, SearchSettings(n_jobs=2), None, budget, solve)
    (X, y, names, settings, share), = solve.calls
    assert names == ["v", "c"] and X.shape == (len(rows.X) + len(rows.X_val), 2)
    assert settings.n_jobs == 1  # no worker pool inside a search
    # y / m: the peeled factor without the scale it was read off with (1.03·m₀ would leave
    # the smaller problem 0.97·its law, a float where the law has none)
    core = X[:, 0] + np.exp(X[:, 1])
    np.testing.assert_allclose(y, core, rtol=1e-9)
    assert share.seconds < budget.seconds and share.start == budget.start
    assert len(found) == 1 and found[0].loss < 1e-20
    m, v, c = sympy.symbols("m v c")
    assert sympy.simplify(found[0].expr - m * (v + sympy.exp(c))) == 0


def test_a_peeled_law_whose_rest_is_one_product_of_powers():
    rows = _rows(relativistic, names=["m", "v", "c"])
    solve = _Solve(lambda z: 1 / sympy.sqrt(1 - z ** 2 / 16))
    found = peel_oracle(relativistic, rows, SearchSettings(), None, Budget(seconds=30), solve)
    (X, y, names, _, _), = solve.calls
    assert names == ["group0"]
    assert np.allclose(X[:, 0], np.concatenate([rows.X, rows.X_val])[:, 1] / np.concatenate([rows.X, rows.X_val])[:, 2])
    m, v, c = sympy.symbols("m v c")
    assert len(found) == 1 and sympy.simplify(found[0].expr - m / sympy.sqrt(1 - v ** 2 / (16 * c ** 2))) == 0


def test_nothing_is_peeled_from_a_law_that_does_not_split():
    def mixed(X):  # no factor, term, scaling symmetry or pair (x0·sin(x0·x1 + x2) has a scaling)
        return np.sin(X[:, 0] * X[:, 1] + X[:, 2]) + X[:, 0]

    solve = _Solve(lambda *s: s[0])
    assert peel_oracle(mixed, _rows(mixed), SearchSettings(), None, Budget(), solve) == []
    assert solve.calls == []


@pytest.mark.slow
def test_a_law_that_splits_entirely_is_its_cuts_and_a_recursive_search_solves_the_rest():
    def separable(X):
        return 2 * X[:, 0] * X[:, 1] ** 2 / X[:, 2]

    found = peel_oracle(separable, _rows(separable), SearchSettings(), None, Budget(seconds=20), _Solve(None))
    x0, x1, x2 = sympy.symbols("x0 x1 x2")
    assert any(sympy.simplify(f.expr - 2 * x0 * x1 ** 2 / x2) == 0 for f in found)

    def nested(X):  # x0 is a factor; the rest depends on x1·x2 only: a one-input search
        return X[:, 0] * np.exp(-X[:, 1] * X[:, 2] / 4)

    settings = SearchSettings(steps=50, complexity_weights=(1.0,))
    found = peel_oracle(nested, _rows(nested), settings, None, Budget(seconds=40), search_table)
    assert found and min(f.loss for f in found) < 1e-12
    best = min(found, key=lambda f: f.loss)
    assert sympy.simplify(best.expr - x0 * sympy.exp(-x1 * x2 / 4)) == 0


def test_one_product_of_powers_is_found_with_its_exponents():
    rows = _rows(lambda X: np.tanh(X[:, 0] * X[:, 1] ** 2 / X[:, 2]))

    def f(X):
        return np.tanh(X[:, 0] * X[:, 1] ** 2 / X[:, 2])

    assert power_group(f, rows.X_val, [0, 1, 2]).tolist() == [1, 2, -1]

    def planck(X):  # ħω/(kT) with four inputs: exponents (1, 1, -1, -1)
        z = X[:, 0] * X[:, 1] / (X[:, 2] * X[:, 3])
        return 1 / (np.exp(z) - 1)

    rows = _rows(planck, d=4)
    assert power_group(planck, rows.X_val, [0, 1, 2, 3]).tolist() == [1, 1, -1, -1]
    # a sum of two groups, or one input alone, is not one group
    assert power_group(lambda X: X[:, 0] / X[:, 1] + X[:, 2], rows.X_val, [0, 1, 2]) is None
    assert power_group(lambda X: np.sin(X[:, 0]), rows.X_val, [0, 1]) is None
    assert power_group(f, -rows.X_val, [0, 1, 2]) is None  # logs need positive inputs
    assert integer_direction(np.array([0.5, -1.0])).tolist() == [1, -2]
    assert integer_direction(np.array([-0.7071, 0.7071])).tolist() == [1, -1]
    assert integer_direction(np.array([0.3183, 1.0])) is None  # 1/π is no small ratio


def test_a_product_of_powers_times_a_function_of_one_group_is_found():
    def rest_energy(X):  # m·c²/√(1 − v²/c²): prefactor m·c², group v/c
        return X[:, 0] * X[:, 2] ** 2 / np.sqrt(1 - (X[:, 1] / (4 * X[:, 2])) ** 2)

    rows = _rows(rest_energy)
    exponents, powers = prefactor_group(rest_energy, rows.X_val, [0, 1, 2])
    assert exponents.tolist() == [0, 1, -1] and powers.tolist() in ([1, 0, 2], [1, 2, 0])
    # x0·x1 + x2 is x2·(1 + x0·x1/x2); a sum of two groups is not
    exponents, powers = prefactor_group(lambda X: X[:, 0] * X[:, 1] + X[:, 2], rows.X_val, [0, 1, 2])
    assert exponents.tolist() == [1, 1, -1] and powers.tolist() == [0, 0, 1]
    exponents, powers = prefactor_group(lambda X: np.tanh(X[:, 0] / X[:, 1]), rows.X_val, [0, 1])
    assert exponents.tolist() == [1, -1] and powers.tolist() == [0, 0]  # a pure group
    assert prefactor_group(lambda X: X[:, 0] / X[:, 1] + np.sin(X[:, 2]), rows.X_val, [0, 1, 2]) is None
    assert prefactor_group(lambda X: X[:, 0] * np.sin(X[:, 1]) + X[:, 2], rows.X_val, [0, 1, 2]) is None


def test_a_peeled_law_with_a_prefactor_is_searched_in_its_group():
    def law(X):  # ω₀ peels off; the rest is c·G(v/c)
        z = X[:, 1] / (4 * X[:, 2])
        return X[:, 0] * X[:, 2] * np.sqrt((1 + z) / (1 - z))

    solve = _Solve(lambda z: sympy.sqrt((1 + z / 4) / (1 - z / 4)))
    found = peel_oracle(law, _rows(law, names=["w", "v", "c"]), SearchSettings(), None, Budget(seconds=30), solve)
    (X, y, names, _, _), = solve.calls
    assert names == ["group0"] and X.shape[1] == 1
    w, v, c = sympy.symbols("w v c")
    truth = w * c * sympy.sqrt((1 + v / (4 * c)) / (1 - v / (4 * c)))
    assert len(found) == 1 and abs(sympy.lambdify((w, v, c), found[0].expr - truth)(2.0, 1.5, 2.5)) < 1e-9


def test_a_coarse_oracle_is_tested_for_scalings_only():
    def law(X):  # splits (x0 is a factor) and scales: x0·sin(x1/x2)
        return X[:, 0] * np.sin(X[:, 1] / X[:, 2])

    rows = _rows(law, names=["a", "b", "c"])
    a, b, c = sympy.symbols("a b c")
    coarse = _Solve(lambda z: sympy.sin(z))
    found = peel_oracle(law, rows, SearchSettings(), None, Budget(seconds=30), coarse, accuracy=5e-4)
    (X, y, names, _, _), = coarse.calls
    assert names == ["group0"] and np.allclose(y * rows_x0(rows), law(np.concatenate([rows.X, rows.X_val])))
    assert len(found) == 1 and sympy.simplify(found[0].expr - a * sympy.sin(b / c)) == 0


def rows_x0(rows):
    """The first input over the training and held-out rows."""
    return np.concatenate([rows.X, rows.X_val])[:, 0]


def test_a_law_of_one_product_of_powers_is_searched_as_one_input():
    def law(X):
        return X[:, 0] / np.sqrt(1 + (X[:, 1] * X[:, 2]) ** 2)

    solve = _Solve(lambda z: 1 / sympy.sqrt(1 + z ** 2))
    found = peel_oracle(law, _rows(law, names=["m", "v", "c"]), SearchSettings(), None, Budget(seconds=30), solve)
    (X, y, names, _, _), = solve.calls
    assert names == ["group0"] and X.shape[1] == 1
    m, v, c = sympy.symbols("m v c")
    assert len(found) == 1 and sympy.simplify(found[0].expr - m / sympy.sqrt(1 + v ** 2 * c ** 2)) == 0


def test_pairs_seen_only_through_their_difference_or_sum_are_joined():
    from symkan.discovery.symmetry import reduced_inputs, symmetric_pairs

    def distance(X):  # (x1 − x0)² + (x3 − x2)², inside a square root
        return np.sqrt((X[:, 1] - X[:, 0]) ** 2 + (X[:, 3] - X[:, 2]) ** 2)

    rows = _rows(distance, d=4)
    pairs = symmetric_pairs(distance, rows.X_val, [0, 1, 2, 3])
    assert sorted(pairs) == [(0, 1, "difference"), (2, 3, "difference")]
    x = sympy.symbols("x0:4")
    assert reduced_inputs(pairs, [0, 1, 2, 3], x) == [x[0] - x[1], x[2] - x[3]]

    def mixed(X):  # x0 + x1 as a sum; x2 alone
        return np.exp(-(X[:, 0] + X[:, 1])) * X[:, 2]

    pairs = symmetric_pairs(mixed, _rows(mixed).X_val, [0, 1, 2])
    assert pairs == [(0, 1, "sum")]
    assert reduced_inputs(pairs, [0, 1, 2], x) == [x[0] + x[1], x[2]]
    assert symmetric_pairs(relativistic, _rows(relativistic).X_val, [0, 1, 2]) == [(1, 2, "ratio")]  # v/c

    def unstructured(X):
        return np.sin(X[:, 0] * X[:, 1] + X[:, 2]) * X[:, 0]

    assert symmetric_pairs(unstructured, _rows(unstructured).X_val, [0, 1, 2]) == []


def test_a_law_of_differences_is_searched_in_the_differences():
    def law(X):  # t splits off as a factor; a and b are seen only through a − b
        return np.cos(X[:, 0] - X[:, 1]) * X[:, 2]

    solve = _Solve(lambda d: sympy.cos(d))
    found = peel_oracle(law, _rows(law, names=["a", "b", "t"]), SearchSettings(), None, Budget(seconds=30), solve)
    (X, _, names, _, _), = solve.calls
    assert X.shape[1] == 1 and names == ["group0"]
    a, b, t = sympy.symbols("a b t")
    assert len(found) == 1 and sympy.simplify(found[0].expr - t * sympy.cos(a - b)) == 0


def test_a_law_whose_inverse_splits_into_terms_is_peeled_there():
    def law(X):  # 1/(x0² + x1/x2): x0 is a term of 1/f, the rest one product of powers
        return 1 / (X[:, 0] ** 2 + X[:, 1] / X[:, 2])

    rows = _rows(law)
    from symkan.discovery.peeling import choose_peel

    assert choose_peel(law, rows.X_val, np.median(rows.X, axis=0), rows.names) == ("inverse", "sum", [0])
    solve = _Solve(lambda z: z)
    found = peel_oracle(law, rows, SearchSettings(), None, Budget(seconds=30), solve)
    (X, y, names, _, _), = solve.calls
    # the smaller problem: 1/y less the peeled term, as a function of x1/x2
    x = np.concatenate([rows.X, rows.X_val])
    assert np.allclose(X[:, 0], x[:, 1] / x[:, 2]) and np.ptp(y - X[:, 0]) < 1e-8
    x0, x1, x2 = sympy.symbols("x0 x1 x2")
    assert len(found) == 1 and sympy.simplify(found[0].expr - 1 / (x0 ** 2 + x1 / x2)) == 0


def test_pairs_seen_only_through_their_product_or_ratio_are_joined():
    from symkan.discovery.symmetry import reduced_inputs, symmetric_pairs

    def law(X):  # x0·cos(x1·x2)² + cos(x1·x2): x1, x2 only as their product, x0 apart
        c = np.cos(X[:, 1] * X[:, 2])
        return X[:, 0] * c ** 2 + c

    pairs = symmetric_pairs(law, _rows(law).X_val, [0, 1, 2])
    assert pairs == [(1, 2, "product")]
    x = sympy.symbols("x0:3")
    assert reduced_inputs(pairs, [0, 1, 2], x) == [x[1] * x[2], x[0]]

    def ratio(X):
        return X[:, 0] + np.sin(X[:, 1] / X[:, 2]) * X[:, 0]

    assert symmetric_pairs(ratio, _rows(ratio).X_val, [0, 1, 2]) == [(1, 2, "ratio")]


@pytest.mark.parametrize("expr, snapped", [("x0*x1/x2", False), ("2.5*tanh(0.3*x0) + x1", True)])
def test_an_exact_peeled_formula_saves_the_snap_only_without_fitted_numbers(expr, snapped):
    from types import SimpleNamespace

    from symkan.discovery import Rung
    from symkan.discovery.attempt import Attempt
    from symkan.discovery.searching import RungSteps
    from symkan.symbolic.formula import Formula

    class Steps(RungSteps):
        calls = 0

        def snap(self, attempt, weights):
            self.calls += 1
            return 1.0

    symbols = sympy.symbols("x0:3")
    peeled = Formula(sympy.sympify(expr), list(symbols), loss=1e-14)
    rows = _rows(relativistic)
    steps = Steps({"linear": SimpleNamespace(transform=None)}, SearchSettings(), rows, Budget(), lambda name: None,
                  1.0, peel=lambda model, transform, accuracy: [peeled])
    attempt = Attempt(Rung("linear", (3, 2, 1)), model=SimpleNamespace(width=[3, 2, 1]), numeric_nmse=1e-6)
    best = steps.formulas(attempt)
    assert steps.calls == int(snapped) and best == pytest.approx(1e-14)
    assert attempt.formulas == [peeled]
    # the next peel needs a network ten times more accurate
    assert not may_peel(attempt, rows, steps.peel_tried) and may_peel(attempt, rows, steps.peel_tried * 11)


@pytest.mark.slow
def test_a_two_input_split_with_and_without_monomial_cuts(monkeypatch):
    """The split of :mod:`symkan.discovery.oracle_split` (known functions as the network):
    cuts that are no monomials, and a monomial cut whose partner is fitted on the data."""
    from symkan.discovery import oracle_split

    x0, x1 = sympy.symbols("x0 x1")
    for law, expected in ((lambda X: np.sin(X[:, 0]) + np.exp(X[:, 1] / 2), sympy.sin(x0) + sympy.exp(x1 / 2)),
                          (lambda X: 0.775 * (X[:, 0] ** 2 + X[:, 1] ** 2), 0.775 * (x0 ** 2 + x1 ** 2))):
        monkeypatch.setattr(oracle_split, "network_function", lambda model, transform, law=law: law)
        found = oracle_split.split_formulas(None, None, _rows(law, d=2), None, Budget(seconds=30), accuracy=1e-8)
        assert any(f.loss < 1e-20 and sympy.simplify(f.expr - expected) == 0 for f in found), found


def test_kept_inputs_that_split_further_are_searched_as_they_are_not_in_their_scalings():
    def law(X):  # m·(u² + v² + w²)/2: m peels off; u, v, w scale together but are a sum
        return X[:, 0] * (X[:, 1] ** 2 + X[:, 2] ** 2 + X[:, 3] ** 2) / 2

    m, u, v, w = sympy.symbols("m u v w")
    solve = _Solve(lambda u, v, w: (u ** 2 + v ** 2 + w ** 2) / 2)  # y/m: the peel of m is monic
    found = peel_oracle(law, _rows(law, d=4, names=["m", "u", "v", "w"]), SearchSettings(), None,
                        Budget(seconds=30), solve)
    (X, y, names, _, _), = solve.calls
    assert names == ["u", "v", "w"]  # not the invariants v/u, w/u
    assert len(found) == 1 and sympy.simplify(found[0].expr - m * (u ** 2 + v ** 2 + w ** 2) / 2) == 0
