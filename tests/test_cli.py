"""The symkan command line: end to end on a CSV, and bad input as one-line errors."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from symkan.cli import main
from symkan.datasets.metrics import is_symbolic_solution


def _write_csv(path, header, rows):
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def fitted_dir(tmp_path_factory):
    """`symkan fit` on y = x0·sin(x1), once for the module."""
    tmp = tmp_path_factory.mktemp("cli")
    g = np.random.default_rng(0)
    X = g.uniform(-2, 2, size=(500, 2))
    y = X[:, 0] * np.sin(X[:, 1])
    csv = _write_csv(tmp / "data.csv", ["x0", "x1", "y"], np.column_stack([X, y]))
    out = tmp / "run"
    proc = subprocess.run([sys.executable, "-m", "symkan.cli", "fit", str(csv), "--target", "y", "--out", str(out),
                           "--json", "--seed", "0"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return tmp, out, json.loads(proc.stdout), X


@pytest.mark.slow
def test_fit_recovers_the_formula_and_writes_every_file(fitted_dir):
    _, out, info, _ = fitted_dir
    assert is_symbolic_solution(info["formula"], "x0*sin(x1)", names=["x0", "x1"])
    for name in ("formula.txt", "formula.tex", "equations.csv", "model", "network.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (out / "formula.txt").read_text().strip() == info["formula"]
    header = (out / "equations.csv").read_text().splitlines()[0]
    assert header == "complexity,loss,r2,score,equation,best"
    assert any(row["best"] for row in info["equations"])


@pytest.mark.slow
def test_predict_and_plot_a_saved_model(fitted_dir, capsys):
    tmp, out, _, X = fitted_dir
    csv = _write_csv(tmp / "new.csv", ["x1", "x0", "extra"], [[0.5, 2.0, 7], [1.0, -1.0, 7]])
    assert main(["predict", str(out / "model"), str(csv), "--json"]) == 0
    pred = json.loads(capsys.readouterr().out)["predictions"]
    np.testing.assert_allclose(pred, [2.0 * np.sin(0.5), -1.0 * np.sin(1.0)], rtol=1e-6, atol=1e-9)
    png = tmp / "again.png"
    assert main(["plot", str(out / "model"), "--out", str(png)]) == 0
    assert png.stat().st_size > 0


def _one_line_error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    return code, lines


@pytest.mark.parametrize("header, rows, target, match", [
    (["a", "b"], [[1, 2], [2, 3], [3, 5]], "y", "target column 'y' not found"),
    (["a", "y"], [[1, 2], ["red", 3], [3, 5]], "y", "column 'a' is not numeric"),
    (["a", "y"], [[1, 2], ["", 3], [3, 5]], "y", "missing or NaN values on 1 line"),
    (["a", "y"], [[1, 2], ["nan", 3], [3, 5]], "y", "missing or NaN values"),
    (["a", "y"], [[1, 2]], "y", "1 data row(s); at least 2"),
    (["a", "y"], [[k, 4.0] for k in range(20)], "y", "y is constant"),
    (["y"], [[1], [2], [3]], "y", "no input columns"),
])
def test_bad_csv_gives_one_line_error_and_nonzero_exit(tmp_path, capsys, header, rows, target, match):
    csv = _write_csv(tmp_path / "bad.csv", header, rows)
    code, lines = _one_line_error(capsys, ["fit", str(csv), "--target", target, "--quiet"])
    assert code != 0
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert match in lines[0]


def test_missing_files_give_one_line_errors(tmp_path, capsys):
    code, lines = _one_line_error(capsys, ["fit", str(tmp_path / "nope.csv"), "--target", "y"])
    assert code != 0 and len(lines) == 1 and "does not exist" in lines[0]
    code, lines = _one_line_error(capsys, ["predict", str(tmp_path / "nope"), str(tmp_path / "x.csv")])
    assert code != 0 and len(lines) == 1 and "does not exist" in lines[0]


def test_help_everywhere():
    for argv in ([], ["fit"], ["predict"], ["plot"], ["demo"]):
        proc = subprocess.run([sys.executable, "-m", "symkan.cli", *argv, "--help"], capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0 and "usage: symkan" in proc.stdout


def test_console_script_reports_bad_input_without_traceback(tmp_path):
    csv = _write_csv(tmp_path / "bad.csv", ["a", "y"], [[1, 2], ["x", 3]])
    exe = os.path.join(os.path.dirname(sys.executable), "symkan")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "symkan.cli"]
    proc = subprocess.run([*cmd, "fit", str(csv), "--target", "y"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("error: ")


# --- fast checks on a small saved model ---------------------------------------------------
FAST = dict(hidden=[1], steps=3, complexity_weights=(1.0,), functions=["x", "x^2", "0"])


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    from symkan import SymKANRegressor

    tmp = tmp_path_factory.mktemp("small")
    g = np.random.default_rng(0)
    X = g.uniform(-1, 1, size=(100, 2))
    model = SymKANRegressor(**FAST).fit(X, 2 * X[:, 0] + X[:, 1] ** 2)
    model.save(tmp / "model")
    return tmp / "model", X


@pytest.fixture
def fast_fits(monkeypatch):
    """The CLI's regressor, with small settings (the wiring of --seed, --quiet... is kept)."""
    import symkan.cli.commands as cli

    original = cli.regressor
    monkeypatch.setattr(cli, "regressor", lambda args, **kw: original(args, **kw).set_params(**FAST))


@pytest.mark.slow
def test_predict_with_wrong_columns_names_them(small_model, tmp_path, capsys):
    path, _ = small_model
    csv = _write_csv(tmp_path / "new.csv", ["x0", "speed"], [[0.5, 1.0], [0.1, 0.2]])
    code, lines = _one_line_error(capsys, ["predict", str(path), str(csv)])
    assert code == 2 and len(lines) == 1
    assert lines[0] == f"error: {csv}: missing input column(s) ['x1']; the model needs ['x0', 'x1']"


@pytest.mark.slow
@pytest.mark.parametrize("text, match", [("", "is empty"), ("\n\n", "is empty"),
                                         ("x0,x1\n", "has 0 data row(s); at least 1")])
def test_empty_csv_files(small_model, tmp_path, capsys, text, match):
    path, _ = small_model
    (tmp_path / "empty.csv").write_text(text)
    for argv in (["predict", str(path), str(tmp_path / "empty.csv")],
                 ["fit", str(tmp_path / "empty.csv"), "--target", "y", "--quiet"]):
        code, lines = _one_line_error(capsys, argv)
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ")
        assert match.replace("at least 1", "") in lines[0]


def test_a_byte_order_mark_is_not_part_of_the_first_name(tmp_path):
    from symkan.cli.tabular import read_csv

    (tmp_path / "bom.csv").write_text("L,g,T\n1,2,3\n", encoding="utf-8-sig")
    assert read_csv(tmp_path / "bom.csv").columns == ["L", "g", "T"]


def test_an_existing_file_as_out_fails_before_fitting(tmp_path, capsys, monkeypatch):
    from symkan import SymKANRegressor

    def no_fit(*a, **k):
        raise AssertionError("fit ran although --out cannot be written")

    monkeypatch.setattr(SymKANRegressor, "fit", no_fit)
    csv = _write_csv(tmp_path / "data.csv", ["a", "y"], [[k, 2 * k] for k in range(10)])
    (tmp_path / "p.csv").write_text("keep me")
    for cmd in (["fit", str(csv), "--target", "y"], ["demo"]):
        code, lines = _one_line_error(capsys, [*cmd, "--out", str(tmp_path / "p.csv"), "--quiet"])
        assert code == 2 and lines == [f"error: --out {str(tmp_path / 'p.csv')!r} exists and is not a directory"]
    assert (tmp_path / "p.csv").read_text() == "keep me"


@pytest.mark.parametrize("header, rows, match", [
    (["a", "b", "y"], [[1.0, 2.0, k] for k in range(10)], "every input column is constant (a = 1, b = 2)"),
    (["a", "y"], [[k, k * 1e300] for k in range(1, 10)], "column 'y' has values up to 9e+300"),
])
def test_data_symkan_cannot_fit_gives_one_line(tmp_path, capsys, header, rows, match):
    csv = _write_csv(tmp_path / "bad.csv", header, rows)
    code, lines = _one_line_error(capsys, ["fit", str(csv), "--target", "y", "--quiet"])
    assert code == 2 and len(lines) == 1 and match in lines[0]


@pytest.mark.slow
def test_corrupt_model_file_gives_one_line(small_model, tmp_path, capsys):
    import torch

    path, X = small_model
    data = torch.load(path, weights_only=True)
    del data["equations"]
    torch.save(data, tmp_path / "corrupt")
    csv = _write_csv(tmp_path / "in.csv", ["x0", "x1"], X[:3])
    for cmd in ("predict", "plot"):
        code, lines = _one_line_error(capsys, [cmd, str(tmp_path / "corrupt"), *([str(csv)] if cmd == "predict" else [])])
        assert code == 2 and len(lines) == 1
        assert "corrupt or incompatible symkan model file" in lines[0] and "'equations'" in lines[0]


def test_verbose_adds_the_traceback_and_bugs_keep_theirs(tmp_path, capsys, monkeypatch):
    import symkan.cli.commands as cli

    code = main(["fit", str(tmp_path / "nope.csv"), "--target", "y", "--verbose"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" in err and err.strip().splitlines()[-1].startswith("error: file ")

    def buggy(args):
        raise KeyError("a bug")

    monkeypatch.setitem(cli.COMMANDS, "fit", buggy)
    with pytest.raises(KeyError, match="a bug"):  # not hidden behind a vague one-liner
        main(["fit", "x.csv", "--target", "y"])


@pytest.mark.slow
def test_progress_bar_quiet_and_verbose(tmp_path, capsys, fast_fits):
    g = np.random.default_rng(1)
    X = g.uniform(-1, 1, size=(60, 2))
    csv = _write_csv(tmp_path / "d.csv", ["a", "b", "y"], np.column_stack([X, 2 * X[:, 0] + X[:, 1]]))
    assert main(["fit", str(csv), "--target", "y"]) == 0
    out, err = capsys.readouterr()
    assert "best formula:  y = 2*a + b" in out
    assert "symkan: done" in err  # the bar, on stderr, ends at its total
    assert main(["fit", str(csv), "--target", "y", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "best formula:  y = 2*a + b" in out and err == ""
    assert main(["fit", str(csv), "--target", "y", "--verbose", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "symkan.progress: stage: train" in err and "symkan: done" not in err


@pytest.mark.slow
def test_demo_runs_end_to_end_and_finds_the_true_formula(capsys):
    assert main(["demo", "--quiet"]) == 0
    out = capsys.readouterr().out
    lines = {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in out.splitlines() if ":" in line}
    assert lines["true formula"] == "f = exp(y**2 + sin(pi*x))"
    assert lines["best formula"] == lines["true formula"]
    assert "Pareto front" in out and "->" in out
