"""Issue 18, the command line's edges: oversized fields, unterminated quotes, JSON
without Infinity/NaN, --out checked before the fit, and CSV headers that are not names."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import sympy

import symkan.cli.commands as cli
from symkan.cli import main
from symkan.cli.tabular import read_csv

FAST = dict(hidden=[1], steps=5, complexity_weights=(1.0,), functions=["x", "x^2", "0"], log_space=False)


def _error_lines(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.strip()]


@pytest.fixture
def no_fit(monkeypatch):
    """Fitting fails the test: the checks must come first."""
    from symkan import SymKANRegressor

    def fit(*a, **k):
        raise AssertionError("the fit ran")

    monkeypatch.setattr(SymKANRegressor, "fit", fit)


def _strict_json(text: str):
    """json.loads that refuses the non-standard constants NaN, Infinity, -Infinity."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


# --- the CSV reader ----------------------------------------------------------------------
def test_a_huge_field_is_a_one_line_error_that_shows_it_cut(tmp_path, capsys, no_fit):
    path = tmp_path / "big.csv"
    path.write_text("a,y\n1,2\n2,3\n" + "1" * 200_000 + ",4\n3,5\n")
    code, lines = _error_lines(capsys, ["fit", str(path), "--target", "y", "--quiet"])
    assert code == 2 and len(lines) == 1 and len(lines[0]) < 400
    assert lines[0].startswith("error: ") and "column 'a' is not numeric (line 4 has '1111" in lines[0]


@pytest.mark.parametrize("text, line", [
    ('a,y\n1,2\n"3,4\n5,6\n7,8\n', 3),       # the quote opens on line 3 and never closes
    ('a,y\n1,2\n3,4\n5,"6\n', 4),
    ('"a,y\n1,2\n3,4\n', 1),                  # in the header
])
def test_an_unterminated_quote_names_its_line(tmp_path, capsys, no_fit, text, line):
    path = tmp_path / "quote.csv"
    path.write_text(text)
    code, lines = _error_lines(capsys, ["fit", str(path), "--target", "y", "--quiet"])
    assert code == 2 and len(lines) == 1
    assert f"line {line}: unterminated quote" in lines[0] and "data row" not in lines[0]


def test_line_numbers_count_blank_lines_and_quoted_cells(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text('a,y\n\n1,2\n"3",4\n\nred,5\n')
    with pytest.raises(ValueError, match="line 6 has 'red'"):
        read_csv(path).column("a")
    path.write_text('a,y\n1,2\n"3"x,4\n')  # the parser keeps what follows a closing quote
    with pytest.raises(ValueError, match="line 3 has '3x'"):
        read_csv(path).column("a")
    path.write_text('a,note,y\n1,"two\nlines",2\n\n3,x,nan\n')  # a quoted line break
    with pytest.raises(ValueError, match="missing or NaN values on 1 line\\(s\\): 5 \\(column 'y'\\)"):
        read_csv(path).numeric(["a", "y"])


def test_quoted_headers_that_are_not_names_are_read(tmp_path):
    path = tmp_path / "names.csv"
    path.write_text('"a,b","c d","cost $x_$",y\n1,2,3,4\n')
    assert read_csv(path).columns == ["a,b", "c d", "cost $x_$", "y"]


# --- JSON --------------------------------------------------------------------------------
class _StubModel:
    """What `predict` uses of a loaded model, predicting inf and nan for some rows."""

    names_ = ("a",)

    def predict(self, X):
        return np.array([1.5, np.inf, -np.inf, np.nan])[: len(X)]


@pytest.mark.parametrize("rows, want, warning", [
    (4, [1.5, None, None, None], "3 value(s) are not finite (inf or nan); written as null"),
    (1, [1.5], None),
])
def test_predict_json_writes_null_for_values_that_are_not_finite(tmp_path, capsys, monkeypatch, rows, want, warning):
    monkeypatch.setattr(cli, "load", lambda path: _StubModel())
    path = tmp_path / "in.csv"
    path.write_text("a\n" + "".join(f"{k}\n" for k in range(rows)))
    assert main(["predict", "model", str(path), "--json"]) == 0
    out, err = capsys.readouterr()
    assert _strict_json(out) == {"predictions": want}
    assert (warning in err) if warning else err == ""
    assert main(["predict", "model", str(path)]) == 0  # the plain output keeps inf and nan
    assert capsys.readouterr().out.split() == ["prediction", *["1.5", "inf", "-inf", "nan"][:rows]]


# --- --out -------------------------------------------------------------------------------
@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_out_under_proc_fails_before_fitting(tmp_path, capsys, no_fit):
    csv = tmp_path / "d.csv"
    csv.write_text("a,y\n" + "".join(f"{k},{2 * k}\n" for k in range(10)))
    for cmd in (["fit", str(csv), "--target", "y"], ["demo"]):
        code, lines = _error_lines(capsys, [*cmd, "--out", "/proc/x", "--quiet"])
        assert code == 2 and len(lines) == 1
        assert lines[0].startswith("error: --out '/proc/x' is not a writable directory")


def test_out_in_a_read_only_directory_fails_before_fitting(tmp_path, capsys, no_fit, monkeypatch):
    """Permission bits are not trusted (root ignores them): the probe file decides."""
    csv = tmp_path / "d.csv"
    csv.write_text("a,y\n" + "".join(f"{k},{2 * k}\n" for k in range(10)))
    real_mkstemp = cli.tempfile.mkstemp

    def refuse(*a, dir=None, **k):
        if Path(dir) == tmp_path / "ro":
            raise PermissionError(13, "Permission denied")
        return real_mkstemp(*a, dir=dir, **k)

    monkeypatch.setattr(cli.tempfile, "mkstemp", refuse)
    (tmp_path / "ro").mkdir()
    code, lines = _error_lines(capsys, ["fit", str(csv), "--target", "y", "--out", str(tmp_path / "ro"), "--quiet"])
    want = f"error: --out {str(tmp_path / 'ro')!r} is not a writable directory: Permission denied"
    assert code == 2 and lines == [want]
    assert os.listdir(tmp_path / "ro") == []  # no probe file left


def test_out_made_for_a_failed_command_is_removed(tmp_path, capsys):
    csv = tmp_path / "bad.csv"
    csv.write_text("a,y\n1,2\nred,3\n")
    out = tmp_path / "new" / "run"
    code, lines = _error_lines(capsys, ["fit", str(csv), "--target", "y", "--out", str(out), "--quiet"])
    assert code == 2 and "not numeric" in lines[0]
    assert not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()  # an existing directory stays
    _error_lines(capsys, ["fit", str(csv), "--target", "y", "--out", str(tmp_path / "kept"), "--quiet"])
    assert (tmp_path / "kept").is_dir()


# --- a fit whose columns are not names ---------------------------------------------------
@pytest.mark.slow
def test_fit_with_headers_that_are_not_names_writes_every_file(tmp_path, capsys, monkeypatch):
    regressor = cli.regressor  # small settings; the wiring of the options is kept
    monkeypatch.setattr(cli, "regressor", lambda args, **kw: regressor(args, **kw).set_params(**FAST))
    g = np.random.default_rng(0)
    X = g.uniform(0.5, 2.0, size=(60, 2))
    y = 2 * X[:, 0] + X[:, 1] ** 2
    csv = tmp_path / "d.csv"
    rows = [",".join(repr(float(v)) for v in row) for row in np.column_stack([X, y])]
    csv.write_text('"cost $x_$",E,y\n' + "\n".join(rows) + "\n")
    out = tmp_path / "run"
    assert main(["fit", str(csv), "--target", "y", "--out", str(out), "--json"]) == 0
    info = _strict_json(capsys.readouterr().out)
    assert info["symbols"] == {"cost $x_$": "cost_x__", "E": "E_"}
    for name in ("formula.txt", "formula.tex", "equations.csv", "model", "network.png"):
        assert (out / name).stat().st_size > 0, name
    text = (out / "formula.txt").read_text().strip()
    assert text == info["formula"]
    expr = sympy.sympify(text)
    pred = sympy.lambdify(sympy.symbols("cost_x__ E_"), expr, "numpy")(*X.T)
    r2 = 1 - np.mean((pred - y) ** 2) / np.var(y)
    assert r2 == pytest.approx(info["r2_validation"], abs=1e-6) and r2 > 0.999
    assert r"\text{cost \$x\_\$}" in (out / "formula.tex").read_text()

    assert main(["fit", str(csv), "--target", "y", "--quiet"]) == 0  # the text output shows the mapping once
    stdout = capsys.readouterr().out
    assert stdout.count("variables renamed in formulas: cost_x__ = 'cost $x_$', E_ = 'E'") == 1
