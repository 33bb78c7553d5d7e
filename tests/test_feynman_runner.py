"""benchmarks/feynman.py end to end on one easy equation: run, resume, summarise."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "feynman.py"


def _run(*args):
    proc = subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


@pytest.mark.slow
def test_runner_solves_resumes_and_summarises(tmp_path):
    out = tmp_path / "res.jsonl"
    first = _run("--subset", "I.12.1", "--time-budget", 30, "--n", 300, "--n-test", 200, "--out", out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert row["name"] == "I.12.1" and row["method"] == "symkan" and "error" not in row
    assert row["symbolic"] is True and row["r2_test"] > 0.999  # y = mu*Nn: recovered exactly
    assert "symbolic solutions=  1 (100.0 %)" in first.stdout

    again = _run("--subset", "I.12.1", "--time-budget", 30, "--n", 300, "--n-test", 200, "--out", out)
    assert "1 already in" in again.stderr and "0 to run" in again.stderr
    assert len(out.read_text().splitlines()) == 1  # nothing re-run or duplicated

    # a second results file (hand-made pykan row) is shown side by side
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"method": "pykan", "name": "I.12.1", "noise": 0.0, "seed": 0, "time_budget": 30,
                                 "n": 300, "true": row["true"], "seconds": 1.5,
                                 "error": "RuntimeError: x|y"}) + "\n")
    table = _run("--summary", out, other, "--markdown").stdout
    assert "pykan   noise=0     equations=  1  symbolic solutions=  0" in table
    line = next(ln for ln in table.splitlines() if ln.startswith("| I.12.1 "))
    assert "| error |" in line and "**yes**" in line and "x\\|y" in line


def test_unknown_equation_is_a_clear_error(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--subset", "I.99.99", "--out", tmp_path / "r.jsonl"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode != 0
    assert "I.99.99" in proc.stderr


def test_summary_joins_two_files_of_one_run(tmp_path):
    """'a.jsonl+b.jsonl' counts both files as one run (a run completed by another)."""
    def row(name, symbolic, r2):
        return json.dumps({"method": "pykan", "name": name, "noise": 0.0, "seed": 0, "time_budget": 60, "n": 1000,
                           "true": "x", "found": "x", "r2_test": r2, "symbolic": symbolic, "seconds": 2.0})
    first, rest, other = tmp_path / "first.jsonl", tmp_path / "rest.jsonl", tmp_path / "other.jsonl"
    first.write_text(row("I.12.1", True, 1.0) + "\n")
    rest.write_text(row("I.12.2", False, 0.5) + "\n" + row("I.12.4", False, 0.9995) + "\n")
    other.write_text(row("I.12.1", False, 0.2) + "\n")
    out = _run("--summary", f"{first}+{rest}", other, "--markdown").stdout
    assert ("[first+rest] pykan   noise=0     equations=  3  symbolic solutions=  1 ( 33.3 %)  "
            "accuracy solutions=  2 ( 66.7 %)") in out
    assert "[other] pykan" in out and "| first+rest: pykan found |" in out
