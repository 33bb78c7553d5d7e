"""Units: parsing, Buckingham π groups, dimensional consistency, unit tables, the search
in dimensionless groups (issue 15)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy

from symkan.discovery.dimensionless import reduce
from symkan.units import (NoReference, UnitError, analyse, column_units, consistency_problem, parse_inline,
                          parse_unit, read_units)
from symkan.units.columns import fit_units

VELOCITY = {"m": 1, "s": -1}


# --- parsing --------------------------------------------------------------------------------
@pytest.mark.parametrize("text, want", [
    ("kg*m/s^2", {"kg": 1, "m": 1, "s": -2}),
    ("m s-1", VELOCITY),
    ("m/s", VELOCITY),
    ("m·s^-1", VELOCITY),
    ("kg m2 s-2", {"kg": 1, "m": 2, "s": -2}),
    ("J/(mol*K)", {"kg": 1, "m": 2, "s": -2, "mol": -1, "K": -1}),
    ("N", {"kg": 1, "m": 1, "s": -2}),
    ("kN", {"kg": 1, "m": 1, "s": -2}),   # a prefix sympy has no name for
    ("MHz", {"s": -1}),
    ("eV", {"kg": 1, "m": 2, "s": -2}),
    ("m^(1/2)", {"m": Fraction(1, 2)}),
    ("1", {}), ("", {}), ("dimensionless", {}),
    ({"m": 1, "s": -1}, VELOCITY),
    ({"m": 1, "s": 0}, {"m": 1}),
])
def test_unit_text_and_mappings_parse_to_base_dimensions(text, want):
    assert parse_unit(text, "x") == {k: Fraction(v) for k, v in want.items()}


@pytest.mark.parametrize("text, message", [
    ("foo", "unknown unit 'foo'"), ("kg*", "ends too early"), ("m/(s", "missing '\\)'"),
    ("2 m", "not a unit"), ("m^x", "expected a number"), ("m)", "unmatched"),
])
def test_a_unit_that_does_not_parse_names_the_column(text, message):
    with pytest.raises(UnitError, match=f"of 'speed' does not parse: .*{message}"):
        parse_unit(text, "speed")


def test_a_unit_of_the_wrong_type_names_the_column():
    with pytest.raises(UnitError, match="unit of 'speed' must be text"):
        parse_unit(3.0, "speed")
    with pytest.raises(UnitError, match="units of 'speed' are not numbers"):
        parse_unit({"m": "fast"}, "speed")


# --- π groups ---------------------------------------------------------------------------------
def _groups(dims, target, names):
    a = analyse([parse_unit(d) for d in dims], parse_unit(target), names)
    syms = sympy.symbols(names, positive=True)
    return [str(g) for g in a.group_exprs(syms)], str(a.reference_expr(syms))


def test_like_quantities_give_their_ratio():
    groups, ref = _groups(["kg", "m/s", "m/s"], "kg*m/s", ["m0", "v", "c"])
    assert groups == ["v/c"] and ref == "m0*v"


def test_hbar_omega_over_kT_is_one_group():
    groups, ref = _groups(["J*s", "Hz", "J/K", "K"], "1", ["hbar", "omega", "k", "T"])
    assert groups == ["hbar*omega/(T*k)"] and ref == "1"


def test_a_dimensionless_input_is_its_own_group():
    groups, ref = _groups(["1", "N", "m"], "J", ["theta", "F", "r"])
    assert groups == ["theta"] and ref == "F*r"


def test_no_group_when_the_units_fix_the_law():
    groups, ref = _groups(["kg", "m/s^2", "m"], "J", ["m", "g", "z"])
    assert groups == [] and ref == "g*m*z"


def test_the_reference_takes_half_powers_only_when_needed():
    groups, ref = _groups(["N/m", "kg"], "Hz", ["k", "m"])
    assert groups == [] and ref == "sqrt(k)/sqrt(m)"


def test_a_target_the_inputs_cannot_make_has_no_reference():
    with pytest.raises(NoReference):
        analyse([parse_unit("m"), parse_unit("s")], parse_unit("kg"), ["x", "t"])


def test_groups_are_dimensionless_and_independent():
    names = ["G", "m1", "m2", "r", "v", "t"]
    dims = [parse_unit(u) for u in ["m^3/(kg*s^2)", "kg", "kg", "m", "m/s", "s"]]
    a = analyse(dims, parse_unit("N"), names)
    assert a.n_groups == 6 - 3 and np.linalg.matrix_rank(a.groups) == a.n_groups
    bases = ["m", "kg", "s"]
    D = np.array([[float(d.get(b, 0)) for d in dims] for b in bases])
    np.testing.assert_allclose(D @ a.groups.T, 0)


# --- mapping back -----------------------------------------------------------------------------
def test_a_formula_of_the_groups_maps_back_to_the_original_law():
    rng = np.random.default_rng(0)
    X = np.c_[rng.uniform(1, 5, 200), rng.uniform(1, 2, 200), rng.uniform(3, 10, 200)]
    y = X[:, 0] * X[:, 1] / np.sqrt(1 - X[:, 1] ** 2 / X[:, 2] ** 2)
    a = analyse([parse_unit(u) for u in ["kg", "m/s", "m/s"]], parse_unit("kg*m/s"), ["m0", "v", "c"])
    red = reduce(a, X, y)
    assert red.scaled and red.X.shape == (200, 1)
    np.testing.assert_allclose(red.y, 1 / np.sqrt(1 - red.X[:, 0] ** 2))  # F(π) with π = v/c
    pi = sympy.Symbol("pi1")
    syms = sympy.symbols("m0 v c", positive=True)
    back = red.user_expression(1 / sympy.sqrt(1 - pi ** 2), [pi], syms)
    f = sympy.lambdify(syms, back)
    np.testing.assert_allclose(f(*X.T), y, rtol=1e-12)


def test_the_reduced_search_weighs_rows_by_the_reference_squared():
    """Σ w·(y/y_ref − F)² with w ∝ y_ref² is Σ (y − y_ref·F)²: the error in y, not in y/y_ref."""
    from symkan.discovery.dimensionless import WEIGHT_RANGE, reduced_split
    from symkan.discovery.sampling import RowSplit

    rng = np.random.default_rng(0)
    X = np.c_[rng.uniform(1, 5, 200), rng.uniform(1, 2, 200), rng.uniform(3, 10, 200)]
    y = X[:, 0] / np.sqrt(1 - X[:, 1] ** 2 / X[:, 2] ** 2)
    a = analyse([parse_unit(u) for u in ["kg", "m/s", "m/s"]], parse_unit("kg"), ["m0", "v", "c"])
    red = reduce(a, X, y)
    rows = np.arange(200)
    split = reduced_split(RowSplit(rows[:150], rows[150:], rows[:150], rows[150:]), red, X)
    np.testing.assert_allclose(split.weight, X[:, 0] ** 2 / np.mean(X[:, 0] ** 2))  # y_ref = m0
    assert np.array_equal(split.search_train, rows[:150]) and np.array_equal(split.val, rows[150:])
    # a reference spanning more than WEIGHT_RANGE in y_ref² is floored there
    X[0, 0] = 1e-4
    floored = reduced_split(RowSplit(rows, rows, rows, rows), reduce(a, X, y), X).weight
    assert floored.max() / floored.min() == pytest.approx(WEIGHT_RANGE)
    unscaled = reduce(analyse([parse_unit("kg")], parse_unit("kg"), ["m"]), X[:, :1], 2 * X[:, 0])
    plain = RowSplit(rows, rows, rows, rows)
    assert reduced_split(plain, unscaled, X[:, :1]) is plain  # y = C·y_ref: nothing to weigh


def test_groups_are_oriented_small_on_the_data():
    rng = np.random.default_rng(1)
    X = np.c_[rng.uniform(3, 10, 100), rng.uniform(1, 2, 100)]  # c first: the group found is c/v
    a = analyse([parse_unit("m/s")] * 2, {}, ["c", "v"])
    red = reduce(a, X, 1 / np.sqrt(1 - X[:, 1] ** 2 / X[:, 0] ** 2))
    assert np.all(red.X < 1)  # v/c
    np.testing.assert_allclose(red.X[:, 0], X[:, 1] / X[:, 0])


def test_a_dimensionless_column_keeps_its_own_orientation():
    """θ in [1, 5] stays θ (cos θ, not cos(1/π₁)); a ratio of like quantities is still
    oriented small."""
    rng = np.random.default_rng(2)
    X = np.c_[rng.uniform(1, 5, 100), rng.uniform(3, 10, 100), rng.uniform(1, 2, 100)]  # theta, c, v
    a = analyse([{}, parse_unit("m/s"), parse_unit("m/s")], {}, ["theta", "c", "v"])
    red = reduce(a, X, np.cos(X[:, 0]) * X[:, 2] / X[:, 1])
    theta = [k for k, e in enumerate(red.exponents) if np.count_nonzero(e) == 1]
    ratio = [k for k in range(len(red.exponents)) if k not in theta]
    assert red.exponents[theta[0]].tolist() == [1, 0, 0]
    np.testing.assert_allclose(red.X[:, theta[0]], X[:, 0])
    assert np.all(red.X[:, ratio[0]] < 1) and not red.is_identity


def test_a_table_of_dimensionless_columns_reduces_to_itself():
    """Groups that are the columns themselves (and y dimensionless) are the user's own
    problem: the search in them is skipped (it would repeat the search in the inputs)."""
    rng = np.random.default_rng(3)
    X = rng.uniform(1, 3, (100, 2))  # sigma, theta of the Gaussian
    y = np.exp(-X[:, 1] ** 2 / (2 * X[:, 0] ** 2)) / X[:, 0]
    red = reduce(analyse([{}, {}], {}, ["sigma", "theta"]), X, y)
    assert red.is_identity
    assert not reduce(analyse([{}, parse_unit("m")], parse_unit("m"), ["n", "x"]), X, y * X[:, 1]).is_identity


def test_a_group_undefined_on_the_data_gives_no_reduction():
    X = np.c_[np.linspace(-1, 1, 51), np.linspace(1, 2, 51)]
    a = analyse([parse_unit("m"), parse_unit("m")], parse_unit("m"), ["x", "y"])  # ref = x: zero at x = 0
    assert reduce(a, X, X[:, 0] + X[:, 1]) is None


# --- consistency ----------------------------------------------------------------------------
def test_consistency_accepts_a_consistent_formula_and_rejects_others():
    x, t = sympy.symbols("x t", positive=True)
    dims = {x: parse_unit("m"), t: parse_unit("s")}
    assert consistency_problem(2.5 * x / t, dims, parse_unit("m/s")) is None
    assert consistency_problem(sympy.sqrt(x ** 2) / t, dims, parse_unit("m/s")) is None
    assert consistency_problem(x * sympy.exp(t / t), dims, parse_unit("m")) is None
    assert "+" in consistency_problem(x + t, dims, parse_unit("m"))
    assert "exp" in consistency_problem(sympy.exp(x), dims, {})
    assert "the target" in consistency_problem(x, dims, parse_unit("s"))


# --- tables and inline text ----------------------------------------------------------------------
def test_the_feynman_units_table_reads(tmp_path):
    from symkan.datasets import equation_units

    units, target = equation_units("I.10.7")
    assert units == [{"kg": 1}, VELOCITY, VELOCITY] and target == {"kg": 1}


def test_a_units_table_ignores_text_columns_and_extra_rows(tmp_path):
    path = tmp_path / "u.csv"
    path.write_text("Variable,Units,m,s\nx,Length,1,0\nt,Time,0,1\ny,Speed,1,-1\nunused,-,0,0\n")
    units = read_units(path)
    assert column_units(units, ["x", "t"], "y") == ([{"m": 1}, {"s": 1}], VELOCITY)


@pytest.mark.parametrize("content, message", [
    ("Variable,Units\nx,Length\n", "no column of numbers"),
    ("Variable,m,s\nx,1\n", "line 2: 2 columns, the header has 3"),
    ("Variable,m\nx,1\nx,2\n", "'x' appears twice"),
    ("Variable,m\n", "needs a header and at least one row"),
])
def test_a_bad_units_table_is_refused_with_the_reason(tmp_path, content, message):
    path = tmp_path / "u.csv"
    path.write_text(content)
    with pytest.raises(UnitError, match=message):
        read_units(path)


def test_inline_units_and_missing_columns():
    units = parse_inline("x=m, t=s, y=m/s")
    assert units["y"] == VELOCITY
    with pytest.raises(UnitError, match="no units for column\\(s\\) 'z'"):
        column_units(units, ["x", "z"], "y")
    with pytest.raises(UnitError, match="not of the form name=unit"):
        parse_inline("x m")


def test_fit_units_checks_its_arguments():
    names = ["x", "t"]
    assert fit_units(None, None, names, "y").analysis is None
    with pytest.raises(UnitError, match="give both X_units and y_units"):
        fit_units(["m", "s"], None, names, "y")
    with pytest.raises(UnitError, match="1 units for 2 columns"):
        fit_units(["m"], "m/s", names, "y")
    with pytest.raises(UnitError, match="X_units has no unit for column\\(s\\) 't'"):
        fit_units({"x": "m"}, "m/s", names, "y")
    with pytest.raises(UnitError, match="unit 'sec' of 't' does not parse"):
        fit_units({"x": "m", "t": "sec"}, "m/s", names, "y")
    with pytest.warns(UserWarning, match="cannot be formed from the inputs"):
        assert fit_units(["m", "s"], "kg", names, "y").analysis is None
    assert fit_units({"x": "m", "t": "s"}, "m/s", names, "y").analysis.n_groups == 0
