"""Every input type named (issue 18, item 4): targets and columns that are not real
numbers get one ValueError naming the column (and a row) before any training; a boolean
target is fitted as 0/1 with a warning.

The search is replaced by a stub that records what it was given, so no test here trains.
"""
from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import symkan.regressor as regressor
from symkan import SymKANRegressor
from symkan.checks import NotNumericError, numeric_column

FAST = dict(hidden=[1], steps=3, complexity_weights=(1.0,), functions=["x", "x^2", "0"])
N = 40


class Reached(Exception):
    """Raised by the stub search: validation passed and training would start."""

    def __init__(self, rows):
        super().__init__("search reached")
        self.rows = rows


@pytest.fixture
def no_training(monkeypatch):
    def stub(X, y, names, split, settings, **kwargs):  # kwargs: budget, units' analysis ...
        raise Reached(split.search_rows(names, X, y))

    monkeypatch.setattr(regressor, "discover", stub)


def _data(seed=0):
    g = np.random.default_rng(seed)
    X = g.uniform(-1, 1, size=(N, 2))
    return X, 2 * X[:, 0] + X[:, 1] ** 2


def _reaches_training(X, y, **params):
    with pytest.raises(Reached) as info:
        SymKANRegressor(**FAST, **params).fit(X, y)
    return info.value.rows


# --- the cases of the issue, each a real failure before ----------------------------------
def test_a_boolean_target_is_fitted_as_0_1_with_a_warning(no_training, caplog):
    X, y = _data()
    with caplog.at_level("WARNING", logger="symkan"):
        rows = _reaches_training(X, y > 0)  # was: TypeError: numpy boolean subtract
    assert "target 'y' is boolean: it is fitted as 0 (False) / 1 (True)" in caplog.text
    assert rows.y.dtype == np.float64 and set(np.unique(np.r_[rows.y, rows.y_val])) == {0.0, 1.0}


def test_a_text_target_names_the_column_and_row(no_training):
    X, _ = _data()
    y = np.array(["3.5"] * (N - 1) + ["tall"])
    with pytest.raises(ValueError, match=rf"column 'y' is not numeric \(row {N - 1} has 'tall'\)"):
        SymKANRegressor(**FAST).fit(X, y)  # was: UFuncTypeError
    with pytest.raises(ValueError, match=r"column 'height' is not numeric \(row 0 has 'tall'\)"):
        SymKANRegressor(**FAST).fit(X, pd.Series(["tall"] + ["1"] * (N - 1), name="height"))


def test_numbers_written_as_text_are_read(no_training):
    X, y = _data()
    rows = _reaches_training(X.astype(str), y.astype(str))
    np.testing.assert_array_equal(np.sort(np.r_[rows.y, rows.y_val]), np.sort(y.astype(str).astype(float)))


def test_a_missing_target_value_is_named_at_its_row_before_training(no_training):
    X, y = _data()
    y = np.array([*y[:10], None, *y[11:]], dtype=object)
    # was: accepted, then "no finite formula" after training, naming rows of the training split
    with pytest.raises(ValueError, match=r"column 'y' has missing values \(None or NA\) in rows \[10\]"):
        SymKANRegressor(**FAST).fit(X, y)


def test_a_datetime_column_is_named(no_training):
    X, y = _data()
    frame = pd.DataFrame({"speed": X[:, 0], "when": pd.date_range("2024-01-01", periods=N, freq="h")})
    # was: DTypePromotionError without the column's name
    with pytest.raises(ValueError, match="column 'when' holds dates or times .*convert them to numbers"):
        SymKANRegressor(**FAST).fit(frame, y)


@pytest.mark.parametrize("make, match", [
    (lambda X: pd.DataFrame({"a": X[:, 0], "t": pd.to_timedelta(np.arange(N), unit="s")}),
     "column 't' holds dates or times"),
    (lambda X: np.array([[v, datetime.date(2024, 1, 1)] for v in X[:, 0]], dtype=object),
     r"column 'x1' holds dates or times \(row 0 has datetime.date"),
    (lambda X: pd.DataFrame({"a": X[:, 0], "c": pd.Categorical(["red", "blue"] * (N // 2))}),
     r"column 'c' is not numeric \(row 0 has 'red'\)"),
    (lambda X: pd.DataFrame({"a": X[:, 0], "n": pd.array([1, None] * (N // 2), dtype="Int64")}),
     r"column 'n' contains NaN \(e.g. in rows \[1, 3, 5, 7, 9\]\)"),
    (lambda X: pd.DataFrame({"a": X[:, 0], "s": pd.array(["1.5", None] * (N // 2), dtype="string")}),
     r"column 's' has missing values \(None or NA\) in rows \[1, 3, 5, 7, 9\]"),
    (lambda X: np.where(np.arange(N)[:, None] == 7, np.inf, X), r"column 'x0' contains infinity \(e.g. in rows \[7\]\)"),
    (lambda X: X + 1j, r"column 'x0' holds complex numbers \(Complex data not supported"),
    (lambda X: np.array([[v, {"k": 1}] for v in X[:, 0]], dtype=object),
     r"column 'x1' is not numeric \(row 0 holds a dict: float\(\) argument must be a string or a real number"),
])
def test_other_bad_columns_are_named(no_training, make, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        SymKANRegressor(**FAST).fit(make(X), y)


def test_variable_names_name_the_columns_in_messages(no_training):
    X, y = _data()
    X = X.astype(object)
    X[3, 1] = None
    with pytest.raises(ValueError, match=r"column 'mass' has missing values \(None or NA\) in rows \[3\]"):
        SymKANRegressor(**FAST, variable_names=["speed", "mass"]).fit(X, y)


def test_objects_that_are_not_numbers_are_also_type_errors():
    """scikit-learn's convention for cells that are not numbers (check_dtype_object)."""
    with pytest.raises(TypeError, match="argument must be .* string.* number"):
        numeric_column(np.array([1.0, {"foo": "bar"}], dtype=object), "x0")
    assert issubclass(NotNumericError, ValueError) and issubclass(NotNumericError, TypeError)


def test_boolean_input_columns_are_read_as_0_1_without_a_warning(no_training, caplog):
    X, y = _data()
    frame = pd.DataFrame({"a": X[:, 0], "on": X[:, 1] > 0})
    with caplog.at_level("WARNING", logger="symkan"):
        rows = _reaches_training(frame, y)
    assert "boolean" not in caplog.text
    assert set(np.unique(np.r_[rows.X[:, 1], rows.X_val[:, 1]])) == {0.0, 1.0}


@pytest.mark.slow
def test_predict_names_a_datetime_column():
    X, y = _data()
    model = SymKANRegressor(**FAST).fit(pd.DataFrame({"a": X[:, 0], "b": X[:, 1]}), y)
    bad = pd.DataFrame({"a": X[:, 0], "b": pd.date_range("2024-01-01", periods=N)})
    with pytest.raises(ValueError, match="column 'b' holds dates or times"):
        model.predict(bad)


# --- property: any dtype and shape either fails with a named ValueError or trains --------
#: cell makers per column kind; the bad kinds put one bad cell in an otherwise numeric column
GOOD = {"float": lambda g, n: g.uniform(-1, 1, n), "int": lambda g, n: g.integers(-5, 5, n),
        "bool": lambda g, n: g.uniform(size=n) > 0.5, "float32": lambda g, n: g.uniform(-1, 1, n).astype(np.float32),
        "numeric text": lambda g, n: g.uniform(-1, 1, n).astype(str)}
BAD = {"text": "red", "None": None, "date": datetime.date(2024, 1, 1), "nan": float("nan"), "inf": float("inf"),
       "complex": 1 + 2j, "timestamp": pd.Timestamp("2024-01-01")}


def _column(kind: str, g, n: int, bad_row: int):
    if kind in GOOD:
        return GOOD[kind](g, n)
    cells = list(g.uniform(-1, 1, n))
    cells[bad_row] = BAD[kind]
    return np.array(cells, dtype=object)


@pytest.mark.filterwarnings("ignore:A column-vector y was passed")
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 12), x_kinds=st.lists(st.sampled_from([*GOOD, *BAD]), min_size=1, max_size=3),
       y_kind=st.sampled_from([*GOOD, *BAD]), y_shape=st.sampled_from(["(n,)", "(n, 1)", "(n, 2)", "(n + 1,)"]),
       frame=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_property_fit_raises_a_named_value_error_or_proceeds(no_training, n, x_kinds, y_kind, y_shape, frame, seed):
    g = np.random.default_rng(seed)
    bad_row = int(g.integers(n))
    cols = [_column(k, g, n, bad_row) for k in x_kinds]
    names = [f"c{k}" for k in range(len(cols))]
    # an array of text and other columns is built as objects: np.column_stack would turn
    # a boolean column beside a text one into the text 'True' / 'False'
    X = pd.DataFrame(dict(zip(names, cols))) if frame else np.column_stack(
        [c.astype(object) for c in cols] if any(c.dtype.kind in "OU" for c in cols) else cols)
    y_n = n + 1 if y_shape == "(n + 1,)" else n
    y = _column(y_kind, g, y_n, min(bad_row, y_n - 1))
    y = y[:, None] if y_shape == "(n, 1)" else np.column_stack([y, y]) if y_shape == "(n, 2)" else y
    try:
        SymKANRegressor(**FAST).fit(X, y)
    except Reached as reached:  # it trains: then X and y were numbers, as floats
        assert not any(k in BAD for k in x_kinds) and y_kind not in BAD
        assert reached.rows.X.dtype == np.float64 and reached.rows.y.dtype == np.float64
        event("trains")
        return
    except ValueError as err:
        message = str(err)
        bad_columns = [name if frame else f"x{k}" for k, name in enumerate(names) if x_kinds[k] in BAD]
        if bad_columns:  # X is checked first, column by column: the first bad one is named
            assert f"column '{bad_columns[0]}'" in message, message
            event("refused: a column of X named")
        elif y_kind in BAD and y_shape in ("(n,)", "(n, 1)", "(n + 1,)"):
            assert "column 'y'" in message, message
            event("refused: y named")
        else:  # shapes, row counts, a constant target: scikit-learn's or symkan's wording
            assert message.strip()
            event("refused: shape, rows or constant")
        return
    pytest.fail("fit neither trained nor raised ValueError")
