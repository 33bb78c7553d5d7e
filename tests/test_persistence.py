"""Model files (symkan.persistence): save/load round trips; truncated, foreign, corrupt and
malicious files; a crash during save; custom functions across sessions."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from symkan import SymKANRegressor
from symkan.persistence import FORMAT_VERSION, load_payload, save_payload


def test_save_load_gives_identical_predictions(fitted, tmp_path):
    model, X, _ = fitted
    path = tmp_path / "model.skan"
    model.save(path)
    again = SymKANRegressor.load(path)
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert again.sympy() == model.sympy()
    assert again.get_params() == model.get_params()
    assert [str(e.expr) for e in again.front_] == [str(e.expr) for e in model.front_]
    with torch.no_grad():
        xs = torch.as_tensor(model.plot_sample_, dtype=next(model.model_.parameters()).dtype)
        assert torch.equal(again.model_(xs), model.model_(xs))
    # no stray temporary files next to the model
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.skan"]


def test_truncated_and_foreign_files_fail_clearly(fitted, tmp_path):
    model, _, _ = fitted
    path = tmp_path / "model.skan"
    model.save(path)
    data = path.read_bytes()
    (tmp_path / "cut.skan").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or not a symkan model"):
        SymKANRegressor.load(tmp_path / "cut.skan")
    (tmp_path / "text.skan").write_text("hello")
    with pytest.raises(ValueError, match="truncated or not a symkan model"):
        SymKANRegressor.load(tmp_path / "text.skan")
    with pytest.raises(ValueError, match="does not exist"):
        SymKANRegressor.load(tmp_path / "missing.skan")
    torch.save({"hello": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a symkan model"):
        SymKANRegressor.load(tmp_path / "other.pt")


def test_newer_format_version_is_refused(tmp_path):
    path = save_payload(tmp_path / "m", {"x": 1})
    assert load_payload(path)["x"] == 1
    data = torch.load(path, weights_only=True)
    data["format_version"] = FORMAT_VERSION + 1
    torch.save(data, path)
    with pytest.raises(ValueError, match="newer symkan"):
        load_payload(path)


@pytest.mark.slow
def test_custom_function_survives_save_load_in_a_fresh_process(tmp_path):
    from symkan.functions.library import register_function

    register_function("softsign_test", "x/(1 + Abs(x))", complexity=3)
    g = np.random.default_rng(1)
    X = g.uniform(-3, 3, size=(300, 1))
    y = X[:, 0] / (1 + np.abs(X[:, 0]))
    model = SymKANRegressor(hidden=[1], steps=20, complexity_weights=(1.0,),
                            functions=["softsign_test", "x", "0"]).fit(X, y)
    path = tmp_path / "custom.skan"
    model.save(path)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "pred.npy", model.predict(X))
    script = (
        "import numpy as np, sys\n"
        "from symkan import SymKANRegressor\n"
        "from symkan.functions.library import get_function\n"
        f"m = SymKANRegressor.load({str(path)!r})\n"
        "get_function('softsign_test')\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r})\n"
        f"assert np.array_equal(m.predict(X), np.load({str(tmp_path / 'pred.npy')!r}))\n"
        "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# --- model files cannot run code ---------------------------------------------------------
def _tampered(model, tmp_path, **changes):
    """A copy of ``model``'s file with payload entries replaced."""
    path = tmp_path / "model.skan"
    model.save(path)
    data = torch.load(path, weights_only=True)
    data.update(changes)
    bad = tmp_path / "tampered.skan"
    torch.save(data, bad)
    return bad


@pytest.mark.parametrize("source", [
    "__import__('os').system('echo PWNED > {marker}') or x",
    "x + __import__('os').system('echo PWNED > {marker}')",
    "(lambda: __import__('os').system('echo PWNED > {marker}'))() * x",
    "x.__class__.__mro__[1].__subclasses__()",
    "exec('open(\"{marker}\", \"w\")') or x",
    "sin.__globals__",
])
def test_a_malicious_custom_function_in_a_model_file_is_refused_and_runs_nothing(fitted, tmp_path, source):
    model, X, _ = fitted
    marker = tmp_path / "pwned.txt"
    evil = {"evil": {"sympy": source.format(marker=marker), "complexity": 3, "domain": [-1e9, 1e9], "poles": []}}
    bad = _tampered(model, tmp_path, custom_functions=evil)
    from symkan.functions.library import FUNCTIONS

    with pytest.raises(ValueError, match="refusing to load.*custom function 'evil'"):
        SymKANRegressor.load(bad)
    assert not marker.exists()
    assert "evil" not in FUNCTIONS
    # and through the command line: one line, exit code 2, nothing run
    from symkan.cli import main

    csv = tmp_path / "in.csv"
    np.savetxt(csv, X[:3], delimiter=",", header="x0,x1", comments="")
    assert main(["predict", str(bad), str(csv), "--quiet"]) == 2
    assert not marker.exists()


def test_stored_formulas_allow_only_sympy_functions(fitted, tmp_path):
    from symkan.functions.expression_data import expr_from_data

    assert expr_from_data(["f", "sin", ["S", "a"]], ["a"]) == __import__("sympy").sin(__import__("sympy").Symbol("a"))
    for data, match in [(["f", "Function", ["S", "a"]], "unsupported operation"),
                        (["f", "Lambda", ["S", "a"], ["S", "a"]], "unsupported operation"),
                        (["f", "Pow", ["I", "10"], ["I", "100000"]], "too large"),
                        (["S", "b"], "unknown variable")]:
        with pytest.raises(ValueError, match=match):
            expr_from_data(data, ["a"])
    model, _, _ = fitted
    bad = _tampered(model, tmp_path, equations=[{"complexity": 1, "loss": 0.0, "nmse": 0.0,
                                                 "expr": ["f", "Function", ["S", "x0"]]}])
    with pytest.raises(ValueError, match="corrupt or incompatible symkan model file"):
        SymKANRegressor.load(bad)


# --- files: crashes, modes, corrupt content ---------------------------------------------
def test_a_crash_during_save_keeps_the_previous_file_and_leaves_no_temp_files(fitted, tmp_path, monkeypatch):
    import symkan.persistence as persistence

    model, X, _ = fitted
    path = tmp_path / "model.skan"
    model.save(path)
    before = path.read_bytes()
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # like open(), not mkstemp's 0600

    def torn_write(data, fh):
        fh.write(b"PK\x03\x04 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(persistence.torch, "save", torn_write)
    with pytest.raises(OSError, match="No space left"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.skan"]
    np.testing.assert_array_equal(SymKANRegressor.load(path).predict(X), model.predict(X))


def test_corrupt_files_and_bad_versions_are_reported_as_such(fitted, tmp_path):
    model, _, _ = fitted
    data = None
    for change, match in [(dict(drop="names"), "corrupt or incompatible symkan model file .*'names'"),
                          (dict(drop="format_version"), "corrupt or incompatible.*format version is missing"),
                          (dict(format_version="1"), "corrupt or incompatible.*format version is '1'"),
                          (dict(model_dtype="load"), "corrupt or incompatible.*dtype"),
                          (dict(n_features_in=5), "corrupt or incompatible")]:
        path = tmp_path / "model.skan"
        model.save(path)
        data = torch.load(path, weights_only=True)
        if "drop" in change:
            del data[change["drop"]]
        else:
            data.update(change)
        torch.save(data, path)
        with pytest.raises(ValueError, match=match) as info:
            SymKANRegressor.load(path)
        assert "newer" not in str(info.value)


def test_python_objects_in_a_file_are_refused_without_weights_only_advice(tmp_path):
    import fractions

    torch.save({"magic": "symkan-model", "x": fractions.Fraction(1, 3)}, tmp_path / "obj.skan")
    with pytest.raises(ValueError, match="Python objects other than plain data") as info:
        SymKANRegressor.load(tmp_path / "obj.skan")
    assert "weights_only" not in str(info.value)


def test_a_session_function_with_another_definition_is_a_clear_error(fitted, tmp_path):
    from symkan.functions.library import FUNCTIONS, register_function

    model, _, _ = fitted
    try:
        register_function("bump_test", "exp(-x**2)*x", complexity=3)  # a file carries every custom function
        model.save(tmp_path / "m.skan")
        SymKANRegressor.load(tmp_path / "m.skan")  # the same definition: fine
        register_function("bump_test", "exp(-x**2)", complexity=3)  # redefined in this session
        with pytest.raises(ValueError, match="refusing to load.*'bump_test'.*in this session it is defined as"):
            SymKANRegressor.load(tmp_path / "m.skan")
        assert FUNCTIONS["bump_test"].source == "exp(-x**2)"  # the session's stays
    finally:
        FUNCTIONS.pop("bump_test", None)


