"""`symkan fit --units` (issue 15): units files, inline units, one-line errors with exit code 2."""
from __future__ import annotations

import json

import numpy as np
import pytest

from symkan.cli import main


@pytest.fixture
def momentum_csv(tmp_path):
    rng = np.random.default_rng(0)
    m0, v, c = rng.uniform(1, 5, 120), rng.uniform(1, 2, 120), rng.uniform(3, 10, 120)
    path = tmp_path / "data.csv"
    np.savetxt(path, np.c_[m0, v, c, m0 * v / np.sqrt(1 - v ** 2 / c ** 2)], delimiter=",", header="m0,v,c,p",
               comments="")
    return path


UNITS_TABLE = "Variable,Units,m,s,kg\nm0,Mass,0,0,1\nv,Speed,1,-1,0\nc,Speed,1,-1,0\np,Momentum,1,-1,1\nE,Energy,2,-2,1\n"


@pytest.mark.parametrize("units, message", [
    ("m0=kg, v=m/s, c=m/s", "no units for column(s) 'p'"),
    ("m0=kg, v=m/s, c=m/z, p=kg*m/s", "the unit 'm/z' of 'c' does not parse: unknown unit 'z'"),
    ("m0 kg", "units file 'm0 kg' does not exist"),
    ("missing.csv", "units file 'missing.csv' does not exist"),
])
def test_bad_units_are_one_line_errors(momentum_csv, capsys, units, message):
    assert main(["fit", str(momentum_csv), "--target", "p", "--units", units]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {message}"


def test_a_units_table_without_numbers_is_refused(momentum_csv, tmp_path, capsys):
    table = tmp_path / "units.csv"
    table.write_text("Variable,Units\nm0,Mass\n")
    assert main(["fit", str(momentum_csv), "--target", "p", "--units", str(table)]) == 2
    assert "no column of numbers" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("inline", [False, True])
def test_fit_with_units_finds_the_law_and_reports_the_units(momentum_csv, tmp_path, capsys, inline):
    table = tmp_path / "units.csv"
    table.write_text(UNITS_TABLE)
    units = "m0=kg, v=m/s, c=m/s, p=kg*m/s" if inline else str(table)
    assert main(["fit", str(momentum_csv), "--target", "p", "--units", units, "--json", "--quiet",
                 "--out", str(tmp_path / "out")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["units"] == {"m0": "kg", "v": "m s^-1", "c": "m s^-1", "p": "kg m s^-1"}
    assert info["r2_validation"] > 1 - 1e-12 and "sqrt" in info["formula"]
    assert all(row["consistent"] for row in info["equations"])
