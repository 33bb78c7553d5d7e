"""The symkan command line: end to end on a CSV, and bad input as one-line errors."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from symkan.cli import main
from symkan.metrics import is_symbolic_solution


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
    assert header == "complexity,loss,r2,equation,best"
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
