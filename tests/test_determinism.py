"""Results that must not depend on the history of the process (issue: the same fit
without a time budget gave 2*pi*sqrt(L)/sqrt(g) in one run and 6.2832*sqrt(L/g) in
another)."""
from __future__ import annotations

import numpy as np
import sympy

from symkan.symbolic.constants import ConstantFit


def _pendulum_rows(n: int = 400):
    """X (n, 2) of L, g and y (n,) = 2π√(L/g) with 1e-4 relative noise."""
    rng = np.random.default_rng(42)
    L, g = rng.uniform(0.2, 2.0, n), rng.uniform(1.6, 25.0, n)
    return np.column_stack([L, g]), 2 * np.pi * np.sqrt(L / g) * (1 + rng.normal(0.0, 1e-4, n))


def test_constant_fit_does_not_depend_on_the_dummy_counter():
    # the pendulum as a linear-space network wrote it: of its five constants only the
    # product 0.557·√(2.99·42.6) is identifiable, so the snap walks a flat loss and
    # round-off decides where it ends; the code lambdify writes must not change with
    # sympy's global Dummy counter (it used to order a product's factors by it)
    X, y = _pendulum_rows()
    L, g = sympy.symbols("L g", positive=True)
    F = sympy.Float
    expr = F("0.55714181273977026") * sympy.sqrt((F("2.9949285663738645") * L + F("0.023725954811427918"))
                                                 * (F("42.562903497411597") * g + F("-3.4834376803856912")) / g**2)
    predictions, snaps = set(), set()
    # counters just below 100, 1000, … (the Dummies' names change length there) and after
    for count in (94, 150, 994, 1050, 9994, 10050, 99994, 100050):
        sympy.Dummy._count = max(sympy.Dummy._count, count)  # forward only: Dummies stay distinct
        fit = ConstantFit(expr, [L, g], X, y)
        predictions.add(fit.predict(fit.values).tobytes())
        fit.snap()
        snaps.add((str(fit.expression()), fit.values.tobytes()))
    assert len(predictions) == 1
    assert len(snaps) == 1
