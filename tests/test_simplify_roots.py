"""Square factors under a root taken out with the sign they have on the data
(symkan.symbolic.simplify.roots_of_squares)."""
from __future__ import annotations

import numpy as np
import sympy

from symkan.datasets.metrics import is_symbolic_solution
from symkan.symbolic.simplify import roots_of_squares

x, t, u, c = sympy.symbols("x t u c", positive=True)
RNG = np.random.default_rng(0)
# I.15.3x's ranges: x > u·t on every row
X = np.column_stack([RNG.uniform(5, 10, 200), RNG.uniform(1, 2, 200), RNG.uniform(1, 2, 200), RNG.uniform(3, 20, 200)])


def test_the_root_of_a_square_found_through_y_squared_is_the_law():
    found = x * sympy.sqrt((-t ** 2 * u ** 2 / x ** 2 + 2 * t * u / x - 1) / (-1 + u ** 2 / c ** 2))
    law = (x - u * t) / sympy.sqrt(1 - u ** 2 / c ** 2)
    assert not is_symbolic_solution(found, law, names=["x", "t", "u", "c"], positive=True)
    out = roots_of_squares(found, [x, t, u, c], X)
    assert is_symbolic_solution(out, law, names=["x", "t", "u", "c"], positive=True)


def test_a_factor_negative_on_the_data_comes_out_negated():
    out = roots_of_squares(sympy.sqrt((u * t - x) ** 2 * c), [x, t, u, c], X)
    assert sympy.simplify(out - (x - u * t) * sympy.sqrt(c)) == 0


def test_a_factor_that_changes_sign_stays_under_the_root():
    X2 = X.copy()
    X2[:, 0] = RNG.uniform(0.5, 6, 200)  # x − u·t takes both signs
    expr = sympy.sqrt((x - u * t) ** 2 + 0 * c)
    assert roots_of_squares(expr, [x, t, u, c], X2) == expr


def test_nothing_to_take_out_leaves_the_formula_as_it_is():
    for expr in (sympy.sqrt(1 - u ** 2 / c ** 2), x * t, sympy.exp(-x) / sympy.sqrt(u + c)):
        assert roots_of_squares(expr, [x, t, u, c], X) == expr
