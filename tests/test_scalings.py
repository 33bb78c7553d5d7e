"""Scaling symmetries of a law read off an oracle (:mod:`symkan.discovery.scalings`)."""
from __future__ import annotations

import numpy as np
import sympy

from symkan.discovery.scalings import candidates, invariants, scaling_directions, scaling_reduction


def _rows(d: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(1.0, 3.0, size=(200, d))


def _reduced(f, d, names):
    A, p = scaling_reduction(f, _rows(d), list(range(d)))
    s = sympy.symbols(names)
    return (sympy.Mul(*(x ** e for x, e in zip(s, p))),
            [sympy.Mul(*(x ** int(a) for x, a in zip(s, row))) for row in A])


def test_a_lorentz_transformation_reduces_to_two_invariants():
    def law(X):  # (x − u·t)/√(1 − u²/c²), u < c
        x, u, t, c = X.T
        return (x - u * t) / np.sqrt(1 - (u / (4 * c)) ** 2)

    prefactor, found = _reduced(law, 4, "x u t c")
    symbols = sympy.symbols("x u t c")
    assert len(found) == 2
    # the law over its prefactor is the same at two points with the same invariants
    rest = sympy.lambdify(symbols, prefactor)
    point = np.array([2.0, 1.5, 1.2, 2.5])
    for move in ([1.3, 1.3, 1.0, 1.3], [1.0, 1 / 1.3, 1.3, 1 / 1.3]):
        other = point * np.array(move)
        assert all(abs(float(z.subs(dict(zip(symbols, point))) - z.subs(dict(zip(symbols, other))))) < 1e-12
                   for z in found)
        assert np.isclose(law(point[None])[0] / rest(*point), law(other[None])[0] / rest(*other), rtol=1e-12)


def test_a_weighted_mean_has_two_scalings_and_a_law_without_any_has_none():
    def mean(X):  # (m1·r1 + m2·r2)/(m1 + m2): masses and radii scale apart
        m1, m2, r1, r2 = X.T
        return (m1 * r1 + m2 * r2) / (m1 + m2)

    directions = scaling_directions(mean, _rows(4), [0, 1, 2, 3])
    assert sorted((c.tolist(), q) for c, q in directions) == [([0, 0, 1, 1], 1), ([1, 1, 0, 0], 0)]
    assert scaling_reduction(lambda X: np.sin(X[:, 0] * X[:, 1] + X[:, 2]) + X[:, 0], _rows(3), [0, 1, 2]) is None
    assert scaling_reduction(lambda X: X[:, 0] - 1.0 / X[:, 0] + X[:, 1], _rows(2), [0, 1]) is None


def test_one_invariant_takes_the_simplest_prefactor():
    def rest_energy(X):  # m·c²/√(1 − v²/c²) on v < c
        m, v, c = X.T
        return m * c ** 2 / np.sqrt(1 - (v / (4 * c)) ** 2)

    prefactor, found = _reduced(rest_energy, 3, "m v c")
    m, v, c = sympy.symbols("m v c")
    assert found == [v / c] and prefactor == m * c ** 2
    A, p = invariants([(np.array([1, 1]), sympy.Integer(2))], 2)  # (v, c) -> s·(v, c) gives s²
    assert A.tolist() == [[1, -1]] and p == [0, 2]


def test_candidates_are_simplest_first_and_bounded():
    small = candidates(2)
    assert small[0].tolist() == [1, 0] and [1, -2] in [c.tolist() for c in small]
    assert all(np.count_nonzero(c) <= 3 and np.abs(c).max() == 1 for c in candidates(7))


def test_rows_no_move_stays_inside_give_no_scaling():
    # two rows 1 % apart: every move by 15 % leaves their box (sklearn's checks fit a
    # handful of rows; the empty set of moved rows had raised IndexError)
    rows = np.array([[1.0, 2.0, 3.0], [1.01, 2.02, 3.03]])
    assert scaling_directions(lambda X: X[:, 0] * X[:, 1] * X[:, 2], rows, [0, 1, 2]) == []
