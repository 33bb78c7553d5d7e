"""The network diagram's legibility and units: text sizes, nothing outside the figure,
curves and labels in the user's units, hidden nodes oriented, range ticks."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from symkan import KAN  # noqa: E402
from symkan.plot import plot_network  # noqa: E402
from symkan.plot_units import snapped_form  # noqa: E402


def _data(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=g) * 2 - 1


def _by_gid(fig, prefix):
    """{"l:i:o": artist} for the lines and texts whose gid is ``prefix:l:i:o``."""
    found = {}
    for ax in fig.axes:
        for art in list(ax.lines) + list(ax.texts):
            gid = art.get_gid()
            if gid and gid.startswith(prefix + ":"):
                found[gid[len(prefix) + 1:]] = art
    return found


def _texts(fig):
    """The texts drawn: visible, not empty, not the tick labels of an Axes that is off."""
    hidden = {id(t) for ax in fig.axes if not ax.axison
              for t in ax.get_xticklabels() + ax.get_yticklabels() + [ax.xaxis.label, ax.yaxis.label]}
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text() and id(t) not in hidden]


def _outside(fig):
    """Texts whose drawn extent leaves the figure (measured by the Agg renderer)."""
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    bad = []
    for t in _texts(fig):
        bb = t.get_window_extent(renderer)
        if bb.x0 < box.x0 - 0.5 or bb.x1 > box.x1 + 0.5 or bb.y0 < box.y0 - 0.5 or bb.y1 > box.y1 + 0.5:
            bad.append(t.get_text())
    return bad


def _increasing(line) -> bool:
    xs, ys = line.get_data()
    order = np.argsort(xs)
    return bool(np.all(np.diff(np.asarray(ys)[order]) >= -1e-12)) and np.ptp(ys) > 0


def _negated_demo():
    """exp(sin(πx) + y²) as a network can carry it: the hidden node holds −(sin(πx) + y²)
    and the output edge is exp(−h); biases zero."""
    model = KAN([2, 1, 1], seed=0)
    model.layers[0].symbolic.set(0, 0, "sin", a=float(np.pi), b=0.0, c=-1.0, d=0.0)
    model.layers[0].symbolic.set(0, 1, "x^2", a=1.0, b=0.0, c=-1.0, d=0.0)
    model.layers[1].symbolic.set(0, 0, "exp", a=-1.0, b=0.0, c=1.0, d=0.0)
    with torch.no_grad():
        for layer in model.layers:
            layer.bias.zero_()
    return model


def _one_input():
    model = KAN([1, 1, 1], seed=0)
    model.layers[0].symbolic.set(0, 0, "x", a=1.0, b=0.0, c=-0.5, d=0.0)
    model.layers[1].symbolic.set(0, 0, "exp", a=-2.0, b=0.0, c=1.0, d=0.0)
    return model


def test_hidden_node_is_oriented_so_the_exp_curve_increases():
    """The demo's picture: a network holding −(sin + y²) drew exp decreasing and sin,
    x² upside down; the node is drawn negated, which leaves the function unchanged."""
    fig = plot_network(_negated_demo(), _data(300, 2), in_names=["x", "y"], out_names=["f"])
    insets, labels = _by_gid(fig, "inset"), _by_gid(fig, "label")
    assert _increasing(insets["1:0:0"])
    assert labels["1:0:0"].get_text() == "exp(x)"
    assert labels["0:0:0"].get_text() == "sin(3.14·x)"
    assert labels["0:1:0"].get_text() == "x^2"
    xs, ys = insets["0:1:0"].get_data()  # an upright parabola: lowest in the middle
    assert np.argmin(ys) not in (0, len(ys) - 1) and ys[0] > ys.min() and ys[-1] > ys.min()


def test_first_layer_and_output_in_the_users_units():
    """With the standardisation (x = 2 + 3·x_n, y = 10 + 4·out) the first edge's axis is
    x, the lone output edge's curve is y itself, and the labels' constants follow."""
    X = _data(200, 1)
    model = _one_input()
    fig = plot_network(model, X, input_affine=(2.0, 3.0), output_affine=(10.0, 4.0))
    ticks = {k: {n: _by_gid(fig, n)[k].get_text() for n in ("xmin", "xmax", "ymin", "ymax")}
             for k in ("0:0:0", "1:0:0")}
    x_user = 2.0 + 3.0 * X[:, 0].numpy()
    assert ticks["0:0:0"]["xmin"] == f"{x_user.min():.3g}" and ticks["0:0:0"]["xmax"] == f"{x_user.max():.3g}"
    with torch.no_grad():
        y_user = 10.0 + 4.0 * model(X)[:, 0].numpy()
    assert float(ticks["1:0:0"]["ymin"]) == pytest.approx(y_user.min(), rel=5e-3)
    assert float(ticks["1:0:0"]["ymax"]) == pytest.approx(y_user.max(), rel=5e-3)
    labels = _by_gid(fig, "label")
    # -0.5·x_n with x_n = (x - 2)/3, shown negated (exp(-2h) flips its node): 0.167·x + const;
    # the lone output edge: 4·exp(2·x) + const, increasing
    assert _increasing(_by_gid(fig, "inset")["1:0:0"])
    assert labels["0:0:0"].get_text().startswith("0.167·x")
    assert "exp(2·x)" in labels["1:0:0"].get_text() and labels["1:0:0"].get_text().startswith("4·exp")


def test_network_units_without_the_affines():
    X = _data(100, 1)
    fig = plot_network(_one_input(), X)
    xmin = _by_gid(fig, "xmin")["0:0:0"].get_text()
    assert xmin == f"{float(X.min()):.3g}"


@pytest.mark.parametrize("build, d", [(_one_input, 1), (lambda: KAN([1, 3, 1], seed=1), 1),
                                      (_negated_demo, 2), (lambda: KAN([2, 5, 1], seed=0), 2)])
def test_text_is_legible_and_inside_the_figure(build, d):
    model = build()
    title = "network in log space: a_long_target_name = exp(output)"
    fig = plot_network(model, _data(200, d), in_names=[f"log(x{k})" for k in range(d)],
                       out_names=["log(a_long_target_name)"], title=title,
                       input_affine=(np.full(d, 1e4), np.full(d, 3e3)), output_affine=(-2e5, 7e4))
    texts = _texts(fig)
    assert title in {t.get_text() for t in texts}
    small = [(t.get_text(), t.get_fontsize()) for t in texts if t.get_fontsize() < 9]
    assert small == []
    assert _outside(fig) == []
    assert fig.get_size_inches()[0] * 150 >= 1200  # a PNG at the CLI's 150 dpi
    if d == 2 and model.layers[0].symbolic.any_fixed:
        assert len(_by_gid(fig, "ymax")) == 3  # every inset has its ranges


def test_thinned_diagram_text_sizes():
    model = KAN([6, 12, 2], seed=1)
    model.layers[0].symbolic.set(0, 0, "sin", a=1.0, b=0.0, c=0.05, d=0.0)
    fig = plot_network(model, _data(100, 6), max_insets=10)
    assert all(t.get_fontsize() >= 9 for t in _texts(fig))
    assert _outside(fig) == []


@pytest.mark.parametrize("args, text", [
    (("sin", 3.14159, 0.00508, 0.44336, 0.0), "0.443·sin(3.14·x + 0.00508)"),
    (("x^2", 1.0, 0.0, 0.108, 1.03), "0.108·x^2 + 1.03"),
    (("exp", 1.9603, 0.0, 0.000222, -0.11), "0.000222·exp(1.96·x) - 0.11"),
    (("unknown_fn", 1.0, 0.0, 1.0, 0.0), "unknown_fn"),
])
def test_snapped_form_rounds_to_three_digits(args, text):
    assert snapped_form(*args) == text


def test_snapped_form_drops_constants_below_the_edges_scale():
    assert snapped_form("sin", 3.0, 1e-4, 2.0, 1e-5, x_range=(-1.0, 1.0), y_span=4.0) == "2·sin(3·x)"
    # not for a function with a pole or a domain end, where a small shift matters
    assert snapped_form("log", 3.0, 1e-4, 2.0, 0.0, x_range=(-1.0, 1.0), y_span=4.0) != "2·log(3·x)"


@pytest.mark.parametrize("affine", [(0.0, 0.0), (0.0, float("nan")), ((1.0, 2.0), 1.0)])
def test_bad_affine(affine):
    with pytest.raises(ValueError, match="input_affine"):
        plot_network(KAN([1, 2, 1], seed=0), _data(20, 1), input_affine=affine)


@pytest.mark.slow
def test_regressor_diagram_of_exp_increases_and_fits_the_figure():
    """A fitted y = exp(x): the exp edge is drawn increasing, the output's curve spans y's
    range in y's units, and the 1-input figure keeps every text inside."""
    from symkan import SymKANRegressor

    X = np.random.default_rng(0).uniform(-1, 1, size=(200, 1))
    y = np.exp(X[:, 0])
    model = SymKANRegressor(hidden=[1], steps=3, complexity_weights=(1.0,), functions=["x", "exp", "0"],
                            log_space=False).fit(X, y)
    fig = model.plot(title="a 1-input model of y = exp(x0) with a title that is rather long")
    labels, insets = _by_gid(fig, "label"), _by_gid(fig, "inset")
    exp_edges = [k for k, t in labels.items() if "exp" in t.get_text()]
    assert exp_edges
    assert all(_increasing(insets[k]) for k in exp_edges)
    last = f"{len(model.model_.layers) - 1}:0:0"
    if last in _by_gid(fig, "ymin"):  # the lone output edge shows y itself
        assert float(_by_gid(fig, "ymin")[last].get_text()) == pytest.approx(y.min(), rel=0.05)
        assert float(_by_gid(fig, "ymax")[last].get_text()) == pytest.approx(y.max(), rel=0.05)
    assert _outside(fig) == []
