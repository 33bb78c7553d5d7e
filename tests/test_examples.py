"""The example scripts run end to end (smoke tests, small settings)."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script, *args, timeout=600):
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / script), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.slow
def test_pendulum_example(tmp_path):
    from symkan.datasets.metrics import is_symbolic_solution

    out = _run("pendulum.py", tmp_path, "--rows", 300)
    found = next(line for line in out.splitlines() if line.startswith("formula: T = "))[len("formula: T = "):]
    # the law (2*pi*sqrt(L)/sqrt(g), or 6.2832*sqrt(L/g): which one a run prints depends
    # on SciPy's solver, docs/api.md "Reproducibility"), by SRBench's criterion
    assert is_symbolic_solution(found, "2*pi*sqrt(L/g)", names=["L", "g"], positive=True), found
    assert (tmp_path / "network.png").stat().st_size > 0
    assert (tmp_path / "pendulum.csv").read_text().startswith("L,g,T")


@pytest.mark.slow
def test_prune_and_plot_example(tmp_path):
    _run("prune_and_plot.py", tmp_path, "--steps", 10, "--refit-steps", 5, "--rounds", 1)
    for name in ("before_prune.png", "after_prune.png"):
        assert (tmp_path / name).stat().st_size > 0
