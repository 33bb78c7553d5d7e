"""SymKANRegressor: parameters, fit/predict/score, scikit-learn conventions, bad input,
progress and diagrams. Model files: test_persistence.py; the search: test_discovery.py."""
import warnings

import numpy as np
import pytest
import torch

from symkan import SymKANRegressor

#: small settings so estimator checks (dozens of fits) stay fast
FAST = dict(hidden=[1], steps=3, complexity_weights=(1.0,), functions=["x", "x^2", "0"])


def _data(n=200, seed=0):
    g = np.random.default_rng(seed)
    X = g.uniform(-1, 1, size=(n, 2))
    return X, 2.0 * X[:, 0] + X[:, 1] ** 2


@pytest.fixture(scope="module")
def trained():
    """FAST trained on _data(): good enough to check the formula it finds. Tests that
    only need a fitted estimator use conftest's quicker ``fitted``."""
    X, y = _data()
    return SymKANRegressor(**FAST).fit(X, y), X, y


#: a work budget for the dozens of fits of check_estimator: the same (short) search on
#: every machine, however loaded (FAST alone charges about 1 500 evaluations)
CHECK_EVALUATIONS = 300


@pytest.mark.slow
def test_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(SymKANRegressor(**FAST, max_evaluations=CHECK_EVALUATIONS), on_fail=None,
                                  expected_failed_checks={
            # the held-out rows are a random share of the rows: a repeated row can land on
            # both sides of the split, a row of weight 2 on one only (tests/test_weights.py)
            "check_sample_weight_equivalence_on_dense_data": "a random held-out split of the rows"})
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert not failed
    # only the array-API check may be skipped (it needs SCIPY_ARRAY_API at interpreter start)
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= {"check_array_api_input"}


def test_every_parameter_has_a_declarative_constraint():
    """scikit-learn's own check: a constraint per parameter, and a bad type or value of
    any of them is an InvalidParameterError naming it (before any training)."""
    from sklearn.utils.estimator_checks import check_param_validation

    check_param_validation("SymKANRegressor", SymKANRegressor(**FAST))


@pytest.mark.slow
def test_params_untouched_clone_and_pipeline():
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    est = SymKANRegressor(lamb=0.5, hidden=[[2, 1]], complexity_weights=(1.0, 2.0))
    assert est.get_params()["hidden"] == [[2, 1]]
    assert clone(est).get_params() == est.get_params()
    X, y = _data()
    pipe = make_pipeline(FunctionTransformer(), SymKANRegressor(**FAST)).fit(X, y)
    assert pipe.score(X, y) > 0.99


@pytest.mark.slow
def test_fit_learns_a_simple_formula(trained):
    model, X, y = trained
    assert model.score(X, y) > 0.999
    assert model.names_ == ["x0", "x1"]
    assert len(model.front_) >= 1
    assert model.best_ is model.front_[model.best_index_]
    assert model.latex() == "y = 2 x_{0} + x_{1}^{2}" and model.latex(rhs_only=True) == "2 x_{0} + x_{1}^{2}"
    # the stored network is the snapped one behind the best formula
    assert all(layer.symbolic.fixed[layer.mask > 0].all() for layer in model.model_.layers)


@pytest.mark.slow
def test_dataframe_column_names_become_variables():
    pd = pytest.importorskip("pandas")
    X, y = _data()
    frame = pd.DataFrame(X, columns=["speed", "mass"])
    model = SymKANRegressor(**FAST).fit(frame, y)
    assert {s.name for s in model.sympy().free_symbols} <= {"speed", "mass"}
    assert model.names_ == ["speed", "mass"]


def test_torch_tensors_are_accepted(fitted):
    model, X, y = fitted
    np.testing.assert_allclose(model.predict(torch.as_tensor(X)), model.predict(X))


@pytest.mark.parametrize("X, y, match", [
    (np.array([[np.nan, 1.0]] * 10), np.arange(10.0), "NaN"),
    (np.ones((10, 2)), np.r_[np.inf, np.arange(9.0)], "infinity"),
    (np.ones((1, 2)), np.ones(1), "1 sample"),
    (np.ones((10, 2)), np.ones(11), "inconsistent numbers of samples"),
    (np.random.default_rng(0).normal(size=(10, 2)), np.full(10, 3.0), "y is constant"),
    (np.random.default_rng(0).normal(size=(3, 2)), np.arange(3.0), "at least 5"),
])
def test_bad_input_is_a_clear_value_error(X, y, match):
    with pytest.raises(ValueError, match=match):
        SymKANRegressor(**FAST).fit(X, y)


@pytest.mark.parametrize("params, match", [
    (dict(basis="nope"), "unknown basis"),
    (dict(steps=0), "steps"),
    (dict(lamb=-1.0), "lamb"),
    (dict(functions=["sin", "wiggle"]), "unknown symbolic function"),
    (dict(variable_names=["a"]), "variable_names has 1"),
    (dict(time_budget=0), "time_budget"),
])
def test_bad_parameters_are_reported_at_fit(params, match):
    X, y = _data(20)
    with pytest.raises(ValueError, match=match):
        SymKANRegressor(**{**FAST, **params}).fit(X, y)


def test_predict_checks_width_and_fit_state(fitted):
    from sklearn.exceptions import NotFittedError

    model, X, _ = fitted
    with pytest.raises(ValueError, match="3 features"):
        model.predict(np.ones((4, 3)))
    with pytest.raises(NotFittedError):
        SymKANRegressor().predict(X)
    with pytest.raises(ValueError, match="index"):
        model.sympy(index=99)

def test_log_space_option_is_checked():
    X, y = _data(50)  # inputs of both signs
    with pytest.raises(ValueError, match="log_space=True needs every input > 0"):
        SymKANRegressor(**FAST, log_space=True).fit(X, y)
    with pytest.raises(ValueError, match="'log_space' parameter of SymKANRegressor must be"):
        SymKANRegressor(**FAST, log_space="sometimes").fit(X, y)


# --- input problems ---------------------------------------------------------------------
@pytest.mark.slow
def test_constant_inputs_are_an_error_when_all_and_a_warning_when_some(caplog):
    X, y = _data(60)
    with pytest.raises(ValueError, match=r"every input column is constant \(x0 = 1, x1 = 2.5\)"):
        SymKANRegressor(**FAST).fit(np.column_stack([np.ones(60), np.full(60, 2.5)]), y)
    with pytest.raises(ValueError, match=r"the input column is constant \(x0 = 1\)"):
        SymKANRegressor(**FAST).fit(np.ones((60, 1)), y)
    X[:, 1] = 4.0
    with caplog.at_level("WARNING", logger="symkan"):
        model = SymKANRegressor(**FAST).fit(X, 2 * X[:, 0])
    assert "input column(s) x1 are constant" in caplog.text
    assert model.score(X, 2 * X[:, 0]) > 0.99


@pytest.mark.parametrize("scale, match", [(1e300, r"column 'x1' has values up to 1e\+300"),
                                          (1e-300, r"column 'x1' has values of at most 1e-300")])
def test_extreme_magnitudes_are_rejected_naming_the_column(scale, match):
    X, y = _data(60)
    X[:, 1] = np.abs(X[:, 1]) * scale
    X[0, 1] = scale
    with pytest.raises(ValueError, match=match):
        SymKANRegressor(**FAST).fit(X, y)


def test_non_numeric_columns_are_named():
    pd = pytest.importorskip("pandas")
    X, y = _data(20)
    frame = pd.DataFrame({"speed": X[:, 0], "colour": ["red"] + ["1.0"] * 19})
    with pytest.raises(ValueError, match=r"column 'colour' is not numeric \(row 0 has 'red'\)"):
        SymKANRegressor(**FAST).fit(frame, y)
    arr = np.array([["1.5", "2"], ["3", "n/a"]] * 10, dtype=object)
    with pytest.raises(ValueError, match="column 'x1' is not numeric"):
        SymKANRegressor(**FAST).fit(arr, y)
    with pytest.raises(ValueError, match="column 'b' is not numeric"):
        SymKANRegressor(**FAST, variable_names=["a", "b"]).fit(arr, y)


def test_messages_show_plain_numbers():
    X, _ = _data(20)
    with pytest.raises(ValueError) as info:
        SymKANRegressor(**FAST).fit(X, np.full(20, 3.0))
    assert "every value is 3)" in str(info.value) and "np." not in str(info.value)
    with pytest.raises(ValueError) as info:
        SymKANRegressor(**{**FAST, "steps": np.int64(0)}).fit(X, X[:, 0])
    assert "Got 0 instead" in str(info.value) and "np." not in str(info.value)


@pytest.mark.parametrize("params, match", [
    (dict(complexity_weights=None), "'complexity_weights' parameter of SymKANRegressor must be"),
    (dict(complexity_weights=1.0), "'complexity_weights' parameter of SymKANRegressor must be"),
    (dict(complexity_weights=()), "'complexity_weights' parameter .* must be a non-empty list"),
    (dict(complexity_weights=(1.0, float("nan"))), "'complexity_weights' parameter .* must be a non-empty list"),
    (dict(random_state=-1), "'random_state' parameter of SymKANRegressor must be"),
    (dict(random_state=True), "'random_state' parameter of SymKANRegressor must be"),
    (dict(random_state=1.5), "'random_state' parameter of SymKANRegressor must be"),
    (dict(random_state="seed"), "'random_state' parameter of SymKANRegressor must be"),
    (dict(target_name=""), "target_name"),
    (dict(steps=True), "'steps' parameter of SymKANRegressor must be an int"),
])
def test_more_bad_parameters(params, match):
    X, y = _data(20)
    with pytest.raises(ValueError, match=match):
        SymKANRegressor(**{**FAST, **params}).fit(X, y)


def test_sympy_index_must_be_an_integer(fitted):
    model, _, _ = fitted
    for bad in (True, False, 0.0, "0"):
        with pytest.raises(ValueError, match="index must be an integer"):
            model.sympy(index=bad)
    assert model.sympy(index=0) == model.front_[0].expr


@pytest.mark.slow
def test_random_state_conventions():
    X, y = _data(60)
    a = SymKANRegressor(**FAST, random_state=7).fit(X, y)
    b = SymKANRegressor(**FAST, random_state=7).fit(X, y)
    assert a.seed_ == b.seed_ == 7 and str(a.sympy()) == str(b.sympy())
    assert [e.loss for e in a.front_] == [e.loss for e in b.front_]
    fresh = [SymKANRegressor(**FAST, random_state=None).fit(X, y).seed_ for _ in range(2)]
    assert fresh[0] != fresh[1]  # fresh entropy on every fit
    for make in (lambda: np.random.RandomState(3), lambda: np.random.default_rng(3)):
        s1 = SymKANRegressor(**FAST, random_state=make()).fit(X, y).seed_
        s2 = SymKANRegressor(**FAST, random_state=make()).fit(X, y).seed_
        assert s1 == s2  # a seed drawn from the given generator
        est = SymKANRegressor(**FAST, random_state=make())
        assert est.fit(X, y).seed_ != est.fit(X, y).seed_  # the generator advances, as in scikit-learn


# --- progress ---------------------------------------------------------------------------
@pytest.mark.slow
def test_progress_bar_reaches_its_end(capsys):
    X, y = _data(60)
    SymKANRegressor(**FAST, progress=True).fit(X, y)
    err = capsys.readouterr().err
    assert "symkan: done" in err
    done = [line for line in err.replace("\r", "\n").splitlines() if "symkan: done" in line][-1]
    import re

    n, total = map(int, re.search(r"(\d+)/(\d+)", done).groups())
    assert n == total >= 2
    SymKANRegressor(**FAST).fit(X, y)
    assert capsys.readouterr().err == ""  # no bar unless asked


# --- diagrams of log-space networks -----------------------------------------------------
@pytest.mark.slow
def test_log_space_plot_labels_log_inputs_and_output(tmp_path):
    from matplotlib.text import Text

    g = np.random.default_rng(2)
    X = g.uniform(1.0, 3.0, size=(80, 2))
    y = X[:, 0] ** 2 * X[:, 1]
    model = SymKANRegressor(**FAST, log_space=True, variable_names=["L", "g"], target_name="T").fit(X, y)
    assert model.network_space_ == "log"
    texts = {t.get_text() for t in model.plot().findobj(Text)}
    assert {"log(L)", "log(g)", "log(T)"} <= texts
    assert any("T = exp(output)" in t for t in texts)
    # the space transform is part of the model file: a loaded model draws the same labels
    path = tmp_path / "log.skan"
    model.save(path)
    again = SymKANRegressor.load(path)
    assert again.space_.name == "log" and again.output_sign_ == model.output_sign_ == 1.0
    np.testing.assert_array_equal(again.input_scale_, model.space_.input_scale)
    assert {"log(L)", "log(g)", "log(T)"} <= {t.get_text() for t in again.plot(X[:10]).findobj(Text)}
    with pytest.raises(ValueError, match="positive inputs"):
        again.plot(-X)
    linear = SymKANRegressor(**FAST, log_space=False).fit(X, y)
    texts = {t.get_text() for t in linear.plot().findobj(Text)}
    assert {"x0", "x1", "y"} <= texts and not any("log(" in t for t in texts)
