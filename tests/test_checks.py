"""symkan.checks: one phrasing per kind of error, the KAN check, eval_mode, array checks."""
from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest
import torch

from symkan.checks import (KANLike, check_choice, check_edge, check_int, check_kan, check_model_data, check_names,
                           check_number, eval_mode, to_target, to_tensor_2d)
from symkan.nn import KAN


@pytest.mark.parametrize("value, minimum, expected", [(3, 1, 3), (3.0, 1, 3), (np.int64(0), 0, 0), (2, 2, 2)])
def test_check_int_accepts_integers(value, minimum, expected):
    out = check_int("n", value, minimum)
    assert out == expected and type(out) is int


@pytest.mark.parametrize("value", [0, 2.5, True, np.bool_(True), None, "3", float("nan"), float("inf")])
def test_check_int_rejects_in_one_phrasing(value):
    with pytest.raises(ValueError, match=r"^n must be an integer >= 1, got "):
        check_int("n", value)


@pytest.mark.parametrize("value", [0, 0.5, np.float32(2.0), 10**6])
def test_check_number_accepts_finite_non_negative_reals(value):
    out = check_number("lamb", value)
    assert out == float(value) and type(out) is float


@pytest.mark.parametrize("value", [-1e-9, float("nan"), float("inf"), True, "1", None, 1j])
def test_check_number_rejects_in_one_phrasing(value):
    with pytest.raises(ValueError, match=r"^lamb must be a finite number >= 0, got "):
        check_number("lamb", value)


def test_check_number_with_infinity_allowed_and_other_minimum():
    assert check_number("tol", float("inf"), finite=False) == float("inf")
    with pytest.raises(ValueError, match=r"^tol must be a number >= 0, got nan"):
        check_number("tol", float("nan"), finite=False)
    with pytest.raises(ValueError, match=r"^beta must be a finite number >= 0.5, got 0.25"):
        check_number("beta", 0.25, minimum=0.5)


def test_check_choice_lists_the_choices():
    assert check_choice("method", "magnitude", ("attribution", "magnitude")) == "magnitude"
    with pytest.raises(ValueError, match=r"^method must be one of \['attribution', 'magnitude'\], got 'inout'$"):
        check_choice("method", "inout", ("magnitude", "attribution"))


def test_check_names():
    assert check_names(None, 2, "names") is None
    assert check_names(("a", 3), 2, "names") == ["a", "3"]
    with pytest.raises(ValueError, match="^names has 1 entries but the model has 2 inputs$"):
        check_names(["a"], 2, "names")
    with pytest.raises(ValueError, match="^out_names has 2 entries but the model has 1 outputs$"):
        check_names(["a", "b"], 1, "out_names", of="outputs")
    with pytest.raises(ValueError, match="out_names must be a sequence of 1 strings, one per output, not a single"):
        check_names("f", 1, "out_names", of="outputs")


def test_is_a_kan_is_one_structural_check():
    model = KAN([2, 3, 1], seed=0)
    assert isinstance(model, KANLike)
    check_kan(model)
    for other in (torch.nn.Linear(2, 1), "not a model", None):
        assert not isinstance(other, KANLike)
        with pytest.raises(ValueError, match=f"^model must be a symkan KAN, got {type(other).__name__}$"):
            check_kan(other)


def test_check_edge_returns_the_layer_and_int_indices():
    model = KAN([2, 3, 1], seed=0)
    layer, l, i, j = check_edge(model, np.int64(1), 2, 0.0)
    assert layer is model.layers[1] and (l, i, j) == (1, 2, 0) and all(type(v) is int for v in (l, i, j))
    with pytest.raises(ValueError, match="^edge index i must be an integer >= 0, got -1$"):
        check_edge(model, 0, -1, 0)
    with pytest.raises(ValueError, match="output node j=3 out of range: layer 0 has 3 outputs"):
        check_edge(model, 0, 0, 3)
    with pytest.raises(ValueError, match="model must be a symkan KAN"):
        check_edge(torch.nn.Linear(2, 1), 0, 0, 0)


def test_eval_mode_restores_every_submodule_flag():
    model = KAN([2, 3, 1], seed=0)
    model.train()
    model.layers[1].eval()  # a submodule frozen in eval mode stays so
    before = [m.training for m in model.modules()]
    with eval_mode(model) as m:
        assert m is model and not any(x.training for x in model.modules())
    assert [m.training for m in model.modules()] == before
    with pytest.raises(RuntimeError), eval_mode(model):
        raise RuntimeError("restored on errors too")
    assert [m.training for m in model.modules()] == before


def test_arrays_share_one_conversion():
    for bad in ([[1.0, 2.0], [3.0]], np.array([[1 + 2j], [3j]])):  # ragged, complex
        with pytest.raises(ValueError, match="^y must be"):
            to_target(bad, 2)
    with pytest.raises(ValueError, match="^X must be real-valued"):
        to_tensor_2d(np.ones((2, 2), dtype=complex))
    with pytest.raises(ValueError, match="^y must be numeric; got values of dtype"):
        to_target(np.array(["a", "b"], dtype=object), 2)
    assert to_target([True, False], 2).tolist() == [[1.0], [0.0]]
    assert to_tensor_2d([[True], [False]]).tolist() == [[1.0], [0.0]]


def test_check_model_data_follows_the_model():
    model = KAN([2, 1], seed=0).double()
    X, y = check_model_data(model, np.ones((4, 2), dtype=np.float32), [1, 2, 3, 4])
    assert X.dtype == y.dtype == torch.float64 and y.shape == (4, 1)
    assert check_model_data(model, np.ones((4, 2)))[1] is None
    with pytest.raises(ValueError, match="^X_val has 1 rows; at least 2 are needed$"):
        check_model_data(model, np.ones((1, 2)), x_name="X_val", min_rows=2)
    with pytest.raises(ValueError, match="^X and y_val have different numbers of rows: 4 vs 3$"):
        check_model_data(model, np.ones((4, 2)), np.ones(3), y_name="y_val")


def test_checks_is_a_bottom_level_module():
    """It imports nothing from symkan (so every layer may use it)."""
    import symkan.checks

    tree = ast.parse(pathlib.Path(symkan.checks.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0 and not (node.module or "").startswith("symkan"), node.module
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("symkan") for a in node.names)
