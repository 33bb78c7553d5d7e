"""Pictures of a result: the Pareto front, the residuals, the estimator's methods and
``symkan plot --what``."""
from __future__ import annotations

import json
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest
import sympy

matplotlib.use("Agg")

from matplotlib.text import Text  # noqa: E402

from symkan.cli import main  # noqa: E402
from symkan.plot_results import plot_front, plot_residuals  # noqa: E402

X_SYM = sympy.Symbol("x")


def _front(losses=(2.0, 0.3, 1e-3, 5e-4)):
    exprs = [sympy.Integer(2), 1.5 * X_SYM, sympy.exp(X_SYM), sympy.exp(X_SYM) + X_SYM ** 3 / 100]
    return [SimpleNamespace(complexity=c, loss=v, formula=SimpleNamespace(expr=e))
            for c, v, e in zip((1, 3, 4, 9), losses, exprs)]


def _gid(fig, gid):
    return [a for ax in fig.axes for a in list(ax.lines) + list(ax.collections) + list(ax.texts)
            if a.get_gid() == gid]


def _min_font(fig) -> float:
    return min(t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text())


@pytest.mark.parametrize("best", [2, -1, 0])
def test_front_marks_and_labels_the_chosen_formula(best):
    front = _front()
    fig = plot_front(front, best)
    (points,), (star,), (label,) = _gid(fig, "front"), _gid(fig, "best"), _gid(fig, "best_label")
    np.testing.assert_array_equal(points.get_xdata(), [1, 3, 4, 9])
    chosen = front[best]
    assert list(star.get_xdata()) == [chosen.complexity] and list(star.get_ydata()) == [chosen.loss]
    assert label.get_text() == str(chosen.formula.expr)
    assert fig.axes[0].get_yscale() == "log"
    assert _min_font(fig) >= 9
    assert fig.get_size_inches()[0] * 150 >= 1200


def test_front_with_an_exact_formula_draws_it_below_the_others():
    fig = plot_front(_front((2.0, 0.3, 0.0, 1e-3)), 2)
    (star,), (label,) = _gid(fig, "best"), _gid(fig, "best_label")
    assert star.get_ydata()[0] == pytest.approx(1e-4)  # a tenth of the smallest positive loss
    assert label.get_text().endswith("(loss 0)")


@pytest.mark.parametrize("front, best, match", [([], 0, "empty"), (_front(), 4, "best_index"),
                                                (_front(), 1.5, "best_index"),
                                                (_front((1.0, float("nan"), 0.1, 0.01)), 0, "finite")])
def test_front_bad_input(front, best, match):
    with pytest.raises(ValueError, match=match):
        plot_front(front, best)


def test_residuals_one_point_per_finite_row():
    g = np.random.default_rng(0)
    X = g.uniform(-1, 1, size=(120, 2))
    y = X[:, 0] + g.normal(0, 0.1, 120)
    pred = X[:, 0].copy()
    pred[:3] = np.nan  # rows the formula is undefined on are left out, and counted
    fig = plot_residuals(y, pred, X=X, names=["a", "cost $x_$"], target="y")
    (main_scatter,) = _gid(fig, "residuals")
    assert len(main_scatter.get_offsets()) == 117
    np.testing.assert_allclose(main_scatter.get_offsets()[:, 1], (y - pred)[3:])
    for k in range(2):
        (panel,) = _gid(fig, f"residuals:{k}")
        np.testing.assert_allclose(panel.get_offsets()[:, 0], X[3:, k])
    assert "3 row(s)" in fig.get_suptitle() and "117 rows" in fig.get_suptitle()
    assert _min_font(fig) >= 9
    fig.savefig(__import__("io").BytesIO(), format="png")  # "$" in a name does not start mathtext


def test_residuals_without_inputs_and_bad_input():
    fig = plot_residuals([1.0, 2.0, 3.0], [1.1, 1.9, 3.2])
    assert len(fig.axes) == 2 and len(_gid(fig, "residuals")[0].get_offsets()) == 3
    with pytest.raises(ValueError, match="same non-zero length"):
        plot_residuals([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="one row per value"):
        plot_residuals([1.0, 2.0], [1.0, 2.0], X=np.zeros((3, 1)))
    with pytest.raises(ValueError, match="no row"):
        plot_residuals([np.nan], [1.0])


@pytest.mark.slow
def test_estimator_plot_front_and_residuals(fitted):
    model, X, y = fitted
    fig = model.plot_front()
    (star,) = _gid(fig, "best")
    assert star.get_xdata()[0] == model.best_.complexity
    fig = model.plot_residuals(X[:50], y[:50])
    assert len(_gid(fig, "residuals")[0].get_offsets()) == 50
    np.testing.assert_allclose(_gid(fig, "residuals")[0].get_offsets()[:, 0], model.predict(X[:50]))


@pytest.fixture(scope="module")
def results_dir(fitted, tmp_path_factory):
    """A ``symkan fit --out`` directory of the ``fitted`` estimator, and a data CSV."""
    from symkan.cli.report import write_outputs

    model, X, y = fitted
    out = tmp_path_factory.mktemp("plots") / "run"
    files = write_outputs(model, out)
    data = out.parent / "data.csv"
    data.write_text("x0,x1,y\n" + "\n".join(f"{a},{b},{c}" for a, b, c in zip(X[:40, 0], X[:40, 1], y[:40])) + "\n")
    return out, data, files


@pytest.mark.slow
def test_fit_out_writes_the_front_at_150_dpi(results_dir):
    from PIL import Image

    out, _, files = results_dir
    assert str(out / "front.png") in files
    for name in ("network.png", "front.png"):
        with Image.open(out / name) as img:
            assert img.size[0] >= 1200, name
            assert img.info["dpi"][0] == pytest.approx(150, abs=0.1)


@pytest.mark.slow
@pytest.mark.parametrize("what", ["network", "front", "residuals"])
def test_cli_plot_what_writes_its_file(results_dir, what, capsys):
    out, data, _ = results_dir
    target = out.parent / f"cli_{what}.png"
    argv = ["plot", str(out), "--what", what, "--out", str(target), "--json"]
    assert main(argv + (["--data", str(data)] if what == "residuals" else [])) == 0
    assert json.loads(capsys.readouterr().out) == {"file": str(target)}
    assert target.stat().st_size > 0


@pytest.mark.slow
def test_cli_plot_defaults_and_errors(results_dir, capsys):
    out, data, _ = results_dir
    (out / "network.png").unlink()
    assert main(["plot", str(out / "model")]) == 0  # today's form: network.png next to the model
    assert (out / "network.png").is_file()
    assert main(["plot", str(out), "--what", "front"]) == 0 and (out / "front.png").is_file()
    assert main(["plot", str(out), "--what", "residuals"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: --what residuals needs --data CSV (the model's input columns and its target)")
    assert main(["plot", str(out.parent), "--what", "front"]) == 2
    assert "has no model file" in capsys.readouterr().err
    bad = out.parent / "bad.csv"
    bad.write_text("x0,y\n1,2\n3,4\n")
    assert main(["plot", str(out), "--what", "residuals", "--data", str(bad)]) == 2
    assert "missing column(s) ['x1']" in capsys.readouterr().err
