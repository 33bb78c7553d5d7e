"""Issue 19, item 2: tables as they come. Separators (sniffed or --sep), text columns
(--drop, --features, errors that name the option), predict ignoring extra columns,
Excel and Parquet when their readers are installed, --version, option values checked
in the command line's words."""
import json
import sys
from importlib.metadata import version

import numpy as np
import pandas as pd
import pytest

import symkan.cli.commands as cli
from symkan.cli import main
from symkan.cli.options import separator
from symkan.cli.table_files import WHITESPACE, sniff_separator
from symkan.cli.tabular import read_csv

FAST = {"hidden": [1], "steps": 3, "complexity_weights": (1.0,), "functions": ["x", "x^2", "0"]}


def _error_lines(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.strip()]


@pytest.fixture
def fast_fits(monkeypatch):
    """The CLI's regressor, with small settings (the wiring of the options is kept)."""
    original = cli.regressor
    monkeypatch.setattr(cli, "regressor", lambda args, **kw: original(args, **kw).set_params(**FAST))


@pytest.fixture
def no_fit(monkeypatch):
    """Fitting fails the test: the checks must come first."""
    from symkan import SymKANRegressor

    def fit(*a, **k):
        raise AssertionError("the fit ran")

    monkeypatch.setattr(SymKANRegressor, "fit", fit)


def _planets(path, rows=60, seed=1):
    """A table with text columns around y = 2a + b: (path, a, b, y)."""
    g = np.random.default_rng(seed)
    a, b = g.uniform(-1, 1, size=(2, rows))
    y = 2 * a + b
    names = [f"planet{k}" for k in range(rows)]
    frame = pd.DataFrame({"planet": names, "a": a, "notes": ["hot, dry"] * rows, "b": b, "y": y})
    frame.to_csv(path, index=False)
    return path, a, b, y


# --- separators -------------------------------------------------------------------------
def test_a_semicolon_csv_is_read_as_separate_columns_with_decimal_commas(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text("a;b;y\n1,5;2;3,25\n-0,5;1e3;4\n", encoding="utf-8")
    table = read_csv(path)
    assert table.columns == ["a", "b", "y"]
    np.testing.assert_array_equal(table.numeric(["a", "b", "y"]), [[1.5, 2, 3.25], [-0.5, 1000, 4]])


@pytest.mark.parametrize("name, text", [
    ("data.tsv", "a\tb c\ty\n1\t2\t3\n4\t5\t6\n"),        # .tsv: tab, a space inside a name
    ("data.txt", "a\tb c\ty\n1\t2\t3\n4\t5\t6\n"),        # tab sniffed
    ("data.csv", "a,b c,y\n1,2,3\n\n4,5,6\n"),             # comma, a blank line
    ("data.txt", "a;b c;y\n1;2;3\n4;5;6\n"),
])
def test_tsv_and_sniffed_separators(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    table = read_csv(path)
    assert table.columns == ["a", "b c", "y"]
    np.testing.assert_array_equal(table.numeric(table.columns), [[1, 2, 3], [4, 5, 6]])


def test_a_whitespace_table_and_its_line_numbers(tmp_path):
    path = tmp_path / "aligned.txt"
    path.write_text("  x     y\n  1.0   2.0\n\n  3.0   nan\n")
    table = read_csv(path)
    assert table.columns == ["x", "y"]
    with pytest.raises(ValueError, match=r"missing or NaN values on 1 line\(s\): 4 \(column 'y'\)"):
        table.numeric(["x", "y"])


def test_sniffing_prefers_the_separator_every_row_agrees_with():
    assert sniff_separator(["a;b", "1,5;2,5", "3;4"]) == ";"       # decimal commas do not count
    assert sniff_separator(['"a,b";c', '1;2']) == ";"              # nor commas inside quotes
    assert sniff_separator(["a b  c", "1 2 3"]) == WHITESPACE
    assert sniff_separator(["a,b", "1,2", "3"]) == ","             # the parser names the short row
    assert sniff_separator(["a", "1"]) == ","                      # one column


def test_sep_forces_the_separator(tmp_path, capsys, monkeypatch):
    path = tmp_path / "pipes.csv"
    path.write_text("a|b\n1|2\n3|4\n")
    assert read_csv(path).columns == ["a|b"]  # sniffing knows comma, semicolon, tab, whitespace
    assert read_csv(path, sep="|").columns == ["a", "b"]
    monkeypatch.setattr(cli, "load", lambda path: _SumModel())
    assert main(["predict", "model", str(path), "--sep", "|", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"predictions": [3.0, 7.0]}
    assert [separator(s) for s in ("tab", "\\t", ";", "semicolon", "whitespace")] == ["\t", "\t", ";", ";", WHITESPACE]


def test_rows_longer_than_the_header_suggest_sep(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("a b;y\n1,5;2\n")  # every row has more commas than the header
    with pytest.raises(ValueError, match=r"more cells than the header has names \(1\).*--sep"):
        read_csv(path, sep=",")


def test_excel_exports_trailing_separators_and_latin1_are_read(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes("café,y,\n1,2,\n3,4,\n".encode("latin-1"))
    table = read_csv(path)
    assert table.columns == ["café", "y"]
    np.testing.assert_array_equal(table.column("y"), [2, 4])


# --- text columns -----------------------------------------------------------------------
def test_a_text_column_is_named_with_the_option_that_skips_it(tmp_path, capsys, no_fit):
    path, *_ = _planets(tmp_path / "planets.csv")
    code, lines = _error_lines(capsys, ["fit", str(path), "--target", "y", "--quiet"])
    assert code == 2 and lines == [(
        f"error: {str(path)!r}: columns are not numeric: 'planet' (line 2 has 'planet0'), 'notes' (line 2 has "
        f"'hot, dry'); drop them with --drop planet,notes or choose the inputs with --features")]
    code, lines = _error_lines(capsys, ["fit", str(path), "--target", "y", "--drop", "planet", "--quiet"])
    assert code == 2 and lines == [(
        f"error: {str(path)!r}: column 'notes' is not numeric (line 2 has 'hot, dry'); drop it with "
        f"--drop planet,notes or choose the inputs with --features")]
    code, lines = _error_lines(capsys, ["fit", str(path), "--target", "y", "--features", "a,notes", "--quiet"])
    assert code == 2 and lines[0].endswith("column 'notes' is not numeric (line 2 has 'hot, dry'); "
                                           "leave it out of --features")


@pytest.mark.parametrize("argv, message", [
    (["--target", "planet"], "column 'planet' is not numeric (line 2 has 'planet0')"),
    (["--target", "y", "--drop", "moons"], "--drop: column 'moons' not found in"),
    (["--target", "y", "--features", "a,y"], "--features names the target column 'y'"),
    (["--target", "y", "--drop", "y"], "--drop names the target column 'y'"),
    (["--target", "y", "--drop", "planet,a,notes,b"], "--drop leaves no input columns besides the target 'y'"),
])
def test_choosing_columns_is_checked_before_fitting(tmp_path, capsys, no_fit, argv, message):
    path, *_ = _planets(tmp_path / "planets.csv")
    code, lines = _error_lines(capsys, ["fit", str(path), *argv, "--quiet"])
    assert code == 2 and len(lines) == 1 and message in lines[0]
    if argv[1] == "planet":  # no hint to drop the target
        assert "--drop" not in lines[0]


@pytest.mark.slow
def test_a_csv_with_a_text_column_and_drop(tmp_path, capsys, fast_fits):
    path, *_ = _planets(tmp_path / "planets.csv")
    assert main(["fit", str(path), "--target", "y", "--drop", "planet", "--drop", "notes", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert list(info["symbols"]) == ["a", "b"]
    assert info["formula"] == "2*a + b"


@pytest.mark.slow
def test_features_chooses_the_inputs_and_their_order(tmp_path, capsys, fast_fits):
    path, *_ = _planets(tmp_path / "planets.csv")
    out = tmp_path / "run"
    assert main(["fit", str(path), "--target", "y", "--features", "b,a", "--out", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert list(info["symbols"]) == ["b", "a"] and info["formula"] == "2*a + b"
    # the saved model predicts from the same file: its text columns are extra columns
    assert main(["predict", str(out / "model"), str(path), "--json"]) == 0
    pred = json.loads(capsys.readouterr().out)["predictions"]
    frame = pd.read_csv(path)
    np.testing.assert_allclose(pred, 2 * frame["a"] + frame["b"], atol=1e-6)


# --- predict ----------------------------------------------------------------------------
class _SumModel:
    """What `predict` uses of a loaded model: the sum of its inputs a and b."""

    names_ = ("a", "b")

    def predict(self, X):
        return X.sum(axis=1)


def test_predict_ignores_extra_columns_text_included(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "load", lambda path: _SumModel())
    path = tmp_path / "new.csv"
    path.write_text("name,b,comment,a\nMars,1,\"red, cold\",2\nVenus,3,,4\n")
    assert main(["predict", "model", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"predictions": [3.0, 7.0]}
    path.write_text("name,b,a\nMars,1,two\n")  # the model's own inputs must be numbers
    code, lines = _error_lines(capsys, ["predict", "model", str(path)])
    assert code == 2 and lines == [f"error: {str(path)!r}: column 'a' is not numeric (line 2 has 'two')"]


# --- Excel and Parquet ------------------------------------------------------------------
def test_parquet_is_read_when_pyarrow_is_installed(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "data.parquet"
    pd.DataFrame({"a": [1.0, 2.0, 3.0], "name": ["x", "y", "z"], "y": [2, 4, None]}).to_parquet(path)
    table = read_csv(path)
    assert table.columns == ["a", "name", "y"]
    np.testing.assert_array_equal(table.column("a"), [1, 2, 3])
    with pytest.raises(ValueError, match=r"missing or NaN values on 1 row\(s\): 3"):
        table.split_target("y", drop=["name"])


def test_xlsx_is_read_when_openpyxl_is_installed(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    path = tmp_path / "data.xlsx"
    book = openpyxl.Workbook()
    for row in ([], ["a", "planet", "y"], [1, "Mercury", 2.5], [], [3, "Venus", "4"], [5, "Mars", "x"]):
        book.active.append(row)
    book.save(path)
    table = read_csv(path)
    assert table.columns == ["a", "planet", "y"]
    np.testing.assert_array_equal(table.column("a"), [1, 3, 5])
    with pytest.raises(ValueError, match=r"column 'y' is not numeric \(row 6 has 'x'\)"):  # rows of the sheet
        table.column("y")


@pytest.mark.parametrize("suffix, package", [(".parquet", "pyarrow"), (".xlsx", "openpyxl")])
def test_a_missing_reader_is_a_one_line_error_naming_it(tmp_path, capsys, monkeypatch, suffix, package):
    monkeypatch.setitem(sys.modules, package, None)  # `import package` now fails
    path = tmp_path / f"data{suffix}"
    path.write_bytes(b"PK\x03\x04 not really")
    code, lines = _error_lines(capsys, ["fit", str(path), "--target", "y"])
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("error: reading ") and f"needs the Python package {package!r}" in lines[0]
    assert f"pip install {package}" in lines[0]


# --- the command line's own words ----------------------------------------------------------
def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"symkan {version('symkan')}"


@pytest.mark.parametrize("argv, message", [
    (["fit", "d.csv", "--target", "y", "--time-budget", "-1"],
     "argument --time-budget: must be a positive number of seconds, not '-1'"),
    (["fit", "d.csv", "--target", "y", "--time-budget", "nan"], "argument --time-budget: must be a positive"),
    (["fit", "d.csv", "--target", "y", "--seed", "-1"], "argument --seed: must be a whole number from 0 to"),
    (["fit", "d.csv", "--target", "y", "--seed", "1.5"], "argument --seed: must be a whole number"),
    (["demo", "--basis", "splines"], "argument --basis: unknown basis 'splines'; choose one of: "),
    (["fit", "d.csv", "--target", "y", "--sep", "ab"], "argument --sep: must be one character"),
    (["fit", "d.csv", "--target", "y", "--features", "a,,b"], "argument --features: must be column names"),
    (["fit", "d.csv", "--target", "y", "--features", "a", "--drop", "b"], "not allowed with argument --features"),
    (["plot", "model", "--beta", "-2"], "argument --beta: must be a positive number, not '-2'"),
])
def test_bad_option_values_are_usage_errors_in_cli_words(capsys, argv, message):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert message in err
    for python_word in ("None", "SymKANRegressor", "parameter", "Traceback"):
        assert python_word not in err
