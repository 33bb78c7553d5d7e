"""Network diagram and networkx export: drawn opacities, structure, legibility, bad input."""
from __future__ import annotations

import io
import math

import matplotlib
import networkx as nx
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

from symkan import KAN  # noqa: E402
from symkan.plot import COLORS, plot_network, to_networkx  # noqa: E402
from symkan.scores import edge_scores, node_scores  # noqa: E402


def _data(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=g) * 2 - 1


def _artists(fig, prefix):
    """{(l, o, i) or (l, j): artist} for artists whose gid starts with ``prefix:``. Edge gids
    are ``prefix:l:i:o`` (the API's edge order); the keys here follow the tensors' [o, i]."""
    found = {}
    for ax in fig.axes:
        for art in list(ax.lines) + list(ax.patches) + list(ax.texts):
            gid = art.get_gid()
            if gid and gid.startswith(prefix + ":"):
                key = tuple(int(v) for v in gid.split(":")[1:])
                found[(key[0], key[2], key[1]) if len(key) == 3 else key] = art
    return found


@pytest.fixture
def mixed_model():
    """[3, [3, [2, 3]], 1] with a pruned edge and two symbolic edges in the last layer."""
    model = KAN([3, [3, [2, 3]], 1], seed=3)
    with torch.no_grad():
        model.layers[0].mask[1, 2] = 0.0
    model.layers[1].symbolic.set(0, 1, "sin", a=2.0, b=0.0, c=1.0, d=0.0)
    model.layers[1].symbolic.set(0, 4, "x^2", a=1.0, b=0.0, c=0.5, d=0.0)
    return model


@pytest.mark.parametrize("method", ["attribution", "magnitude"])
@pytest.mark.parametrize("beta", [3.0, 0.7])
def test_edge_opacity_is_tanh_beta_score(mixed_model, method, beta):
    X = _data(200, 3)
    fig = plot_network(mixed_model, X, beta=beta, method=method)
    edges = _artists(fig, "edge")
    scores = edge_scores(mixed_model, X, method=method)
    expected = {(l, o, i): math.tanh(beta * float(s[o, i])) * float(mixed_model.layers[l].mask[o, i])
                for l, s in enumerate(scores) for o in range(s.shape[0]) for i in range(s.shape[1])}
    assert set(edges) == set(expected)
    for key, alpha in expected.items():
        assert edges[key].get_alpha() == pytest.approx(alpha, rel=1e-6, abs=1e-9)
    assert edges[(0, 1, 2)].get_alpha() == 0.0  # the pruned edge
    assert edges[(0, 1, 2)].get_gid() == "edge:0:2:1"  # layer 0, input 2, sub-node 1
    insets = _artists(fig, "inset")
    for key, art in insets.items():
        assert art.get_alpha() == pytest.approx(expected[key], rel=1e-6, abs=1e-9)


def test_colours_markers_and_symbolic_labels(mixed_model):
    X = _data(200, 3)
    fig = plot_network(mixed_model, X, in_names=["a", "b", "c"], out_names=["f"])
    edges = _artists(fig, "edge")
    assert edges[(1, 0, 1)].get_color() == COLORS["symbolic"]
    assert edges[(1, 0, 0)].get_color() == COLORS["mixed"]  # numeric, but its layer is partly symbolic
    assert edges[(0, 0, 0)].get_color() == COLORS["numeric"]
    labels = {k: t.get_text() for k, t in _artists(fig, "label").items()}
    # each snapped edge says its form with its constants (sign of a hidden node: see test_plot_units)
    assert set(labels) == {(1, 0, 1), (1, 0, 4)}
    assert labels[(1, 0, 1)].lstrip("-") == "sin(2·x)" and labels[(1, 0, 4)].lstrip("-") == "0.5·x^2"
    nodes = _artists(fig, "node")
    assert len(nodes) == 3 + 5 + 1
    sum_marker, prod_marker = nodes[(1, 0)], nodes[(1, 3)]
    assert sum_marker.get_markerfacecolor() != prod_marker.get_markerfacecolor()
    assert len(_artists(fig, "subnode")) == 5  # the factors of the two product nodes
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"a", "b", "c", "f"} <= texts
    fig.savefig(io.BytesIO(), format="png")  # renders with the Agg canvas


def test_inset_curve_follows_the_edge_function():
    X = _data(300, 2)
    model = KAN([2, 2, 1], seed=0)
    model.layers[0].symbolic.set(1, 0, "x^2", a=1.0, b=0.0, c=1.0, d=0.0)
    fig = plot_network(model, X, n_grid=41)
    xs, ys = _artists(fig, "inset")[(0, 1, 0)].get_data()
    # normalised into its box: x evenly spaced, y a parabola with its minimum in the middle
    assert len(xs) == 41
    np.testing.assert_allclose(np.diff(xs), np.diff(xs)[0], rtol=1e-4)
    lo, hi = float(X[:, 0].min()), float(X[:, 0].max())
    grid = np.linspace(lo, hi, 41)
    v = (grid ** 2 - (grid ** 2).min()) / np.ptp(grid ** 2)
    # its hidden node may be drawn negated (oriented so its outgoing curve increases)
    sign = -1.0 if _artists(fig, "label")[(0, 1, 0)].get_text().startswith("-") else 1.0
    drawn = (ys - ys.min()) / np.ptp(ys)
    np.testing.assert_allclose(drawn if sign > 0 else 1.0 - drawn, v, atol=1e-4)


def test_large_network_draws_insets_for_the_strongest_edges_only():
    X = _data(100, 8)
    model = KAN([8, 20, 4], seed=0)  # 160 + 80 = 240 edges
    fig = plot_network(model, X, max_insets=30)
    insets = _artists(fig, "inset")
    assert len(insets) == 30
    scores = edge_scores(model, X)
    flat = sorted(((float(s[o, i]), (l, o, i)) for l, s in enumerate(scores)
                   for o in range(s.shape[0]) for i in range(s.shape[1])), reverse=True)
    assert set(insets) == {key for _, key in flat[:30]}
    # the thinning is announced in the legend (not only as loose text in a corner)
    legend = fig.axes[0].get_legend()
    assert legend is not None
    note = [t for t in legend.get_texts() if t.get_gid() == "note"]
    assert len(note) == 1 and "insets thinned" in note[0].get_text()
    assert "30 strongest of 240" in note[0].get_text()
    assert not any("inset" in t.get_text() for t in fig.axes[0].texts)
    # thinned-out insets sit on their own edge and do not overlap each other
    edges, boxes = _artists(fig, "edge"), _artists(fig, "box")
    assert set(boxes) == set(insets)
    for key, box in boxes.items():
        (x0, x1), (y0, y1) = edges[key].get_data()
        cx, cy = box.get_x() + box.get_width() / 2, box.get_y() + box.get_height() / 2
        t = (cy - y0) / (y1 - y0)
        assert 0.15 <= t <= 0.85 and cx == pytest.approx(x0 + t * (x1 - x0), abs=1e-9)
    rects = [(b.get_x(), b.get_y(), b.get_x() + b.get_width(), b.get_y() + b.get_height()) for b in boxes.values()]
    overlaps = [(a, b) for k, a in enumerate(rects) for b in rects[k + 1:]
                if min(a[2], b[2]) - max(a[0], b[0]) > 1e-9 and min(a[3], b[3]) - max(a[1], b[1]) > 1e-9]
    assert overlaps == []


def _on_segment(text, line, tol=1e-9):
    """Whether a Text's anchor lies on the straight Line2D between its end points."""
    (x0, x1), (y0, y1) = line.get_data()
    x, y = text.get_position()
    t = (y - y0) / (y1 - y0)
    return 0.0 < t < 1.0 and abs(x - (x0 + t * (x1 - x0))) < tol


@pytest.mark.parametrize("max_insets", [12, 0])
def test_thinned_insets_keep_the_labels_of_symbolic_edges(max_insets):
    """Above max_insets, a symbolic edge that loses its inset still shows its function."""
    X = _data(100, 6, seed=1)
    model = KAN([6, 12, 2], seed=1)  # 72 + 24 = 96 edges
    sym = {(0, 0, 0): "sin", (0, 3, 2): "x^2", (0, 7, 5): "exp", (0, 11, 1): "tanh", (1, 1, 4): "x"}
    for (l, o, i), name in sym.items():
        model.layers[l].symbolic.set(o, i, name, a=1.0, b=0.0, c=0.05, d=0.0)  # weak: few get insets
    model.layers[0].symbolic.set(9, 3, "cos", a=1.0, b=0.0, c=1.0, d=0.0)
    with torch.no_grad():
        model.layers[0].mask[9, 3] = 0.0  # a masked symbolic edge is not drawn, nor labelled
    fig = plot_network(model, X, max_insets=max_insets)
    insets, labels, edges = _artists(fig, "inset"), _artists(fig, "label"), _artists(fig, "edge")
    assert len(insets) == max_insets
    assert set(labels) == set(sym)  # the masked symbolic edge has none
    for k, name in sym.items():  # its form: c·f(x) with c = ±0.05 (a hidden node's orientation)
        assert labels[k].get_text().lstrip("-") == ("0.05·" + (name if name in ("x", "x^2") else f"{name}(x)"))
    without = [k for k in sym if k not in insets]
    assert without, "the case must have symbolic edges without an inset"
    for k in without:  # labelled on the edge itself
        assert _on_segment(labels[k], edges[k]), k
        assert labels[k].get_color() == COLORS["symbolic"]
    note = [t for t in fig.axes[0].get_legend().get_texts() if t.get_gid() == "note"]
    assert len(note) == 1
    assert ("insets off" if max_insets == 0 else "12 strongest of 95") in note[0].get_text()
    fig.savefig(io.BytesIO(), format="png")


def test_no_thinning_note_when_every_edge_has_an_inset(mixed_model):
    fig = plot_network(mixed_model, _data(200, 3))
    legend = fig.axes[0].get_legend()
    assert legend is not None and not any(t.get_gid() == "note" for t in legend.get_texts())


def test_draws_into_given_axes_and_writes_no_files(tmp_path, monkeypatch):
    from matplotlib.figure import Figure
    monkeypatch.chdir(tmp_path)
    host = Figure()
    ax = host.add_subplot()
    rng = torch.random.get_rng_state()
    out = plot_network(KAN([2, 3, 1], seed=0), _data(50, 2), ax=ax)
    to_networkx(KAN([2, 3, 1], seed=0), _data(50, 2))
    assert out is host
    assert torch.equal(rng, torch.random.get_rng_state())
    assert list(tmp_path.iterdir()) == []


def test_to_networkx_matches_masks_scores_and_symbolic_state(mixed_model):
    X = _data(200, 3)
    g = to_networkx(mixed_model, X, in_names=["a", "b", "c"])
    assert isinstance(g, nx.DiGraph)
    ns = node_scores(mixed_model, X)
    es = edge_scores(mixed_model, X)
    specs = mixed_model.specs
    kinds = {n: d["kind"] for n, d in g.nodes(data=True)}
    assert [kinds[(0, i)] for i in range(3)] == ["input"] * 3
    assert [kinds[(1, j)] for j in range(5)] == ["sum"] * 3 + ["product"] * 2
    assert g.nodes[(1, 4)]["arity"] == 3 and g.nodes[(0, 2)]["name"] == "c"
    assert sum(1 for k in kinds.values() if k == "subnode") == 5
    for l, spec in enumerate(specs):
        for j in range(spec.n_nodes):
            assert g.nodes[(l, j)]["score"] == pytest.approx(float(ns[l][j]))
    kan_edges = [(u, v, d) for u, v, d in g.edges(data=True) if d["kind"] == "edge"]
    assert len(kan_edges) == sum(layer.mask.numel() for layer in mixed_model.layers)
    for u, v, d in kan_edges:
        layer = mixed_model.layers[d["layer"]]
        o, i = d["out"], d["in"]
        assert u == (d["layer"], i)
        assert d["alive"] == bool(layer.mask[o, i])
        assert d["score"] == pytest.approx(float(es[d["layer"]][o, i]))
        assert d["symbolic"] == layer.symbolic.function_name(o, i)
    assert g.edges[(1, 1), (2, 0)]["symbolic"] == "sin"
    assert not g.edges[(0, 2), (1, 1)]["alive"]
    # product factors: edges from the inputs end on the factors, which feed the product node
    assert g.has_edge((0, 0), (1, 3, 1)) and g.edges[(1, 3, 1), (1, 3)]["kind"] == "factor"


@pytest.mark.parametrize("kwargs, match", [
    ({"beta": -1.0}, "beta"),
    ({"beta": float("nan")}, "beta"),
    ({"method": "inout"}, "method"),
    ({"in_names": ["a"]}, "in_names"),
    ({"out_names": "f"}, "out_names"),
    ({"max_insets": -3}, "max_insets"),
    ({"n_grid": 1}, "n_grid"),
    ({"beta": np.float32(2.0), "max_insets": -1}, "max_insets"),  # numpy scalars are numbers
])
def test_plot_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_network(KAN([2, 3, 1], seed=0), _data(20, 2), **kwargs)


@pytest.mark.parametrize("fn", [plot_network, to_networkx])
def test_plot_bad_X(fn):
    model = KAN([2, 3, 1], seed=0)
    with pytest.raises(ValueError, match="columns"):
        fn(model, _data(20, 3))
    X = _data(20, 2)
    X[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        fn(model, X)
