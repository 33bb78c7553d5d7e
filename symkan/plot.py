"""Network diagrams (matplotlib) and a networkx export, for any basis.

Layout: inputs at the bottom, outputs at the top (as in pykan). Node layer l sits at
height l. In a layer with product nodes each product node (circled ×) sits above its
factors (small dots, the sub-nodes its incoming edges end on).

Edges: one ``Line2D`` per edge with alpha = tanh(β·score) and ``gid =
"edge:{l}:{i}:{o}"`` (layer l, input node i, sub-node o: the edge order of the API, see
:class:`symkan.nn.KANLayer`), so the drawn opacities can be read back; its inset, box
and label have the same key. Colours: black = numeric edge, red = symbolic edge (labelled with its
function name), purple = numeric edge in a layer where other edges are already
symbolic (snapping unfinished there). Masked edges are drawn with alpha 0.

Insets: each alive edge passes through a small box showing its learned curve φ(x),
sampled on a grid over the min..max of that edge's input under X. Above ``max_insets``
alive edges, edges are drawn as straight lines and only the ``max_insets`` strongest
get an inset, placed on the edge (at its midpoint, or slid along it — strongest edges
first — to the nearest spot where it does not overlap an inset already placed); a
legend entry says how many edges have insets. Symbolic edges without an inset still
get their function label, on the edge. Everything is vector artists in one figure;
nothing is written to disk.
"""
from __future__ import annotations

import math
from typing import Sequence

import networkx as nx
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from .checks import check_choice, check_int, check_kan, check_names, check_number, eval_mode
from .scores import EDGE_METHODS, attribution_scores, inout_scores, magnitude_scores, subnode_owner, trace

COLORS = {"numeric": "black", "symbolic": "tab:red", "mixed": "tab:purple"}
_SUB_DROP = 0.16  # how far below a product node its factors sit (layer units)
#: positions along an edge (0 = its input node, 1 = its output) tried for a thinned-out inset
_SLIDE = (0.5, 0.42, 0.58, 0.34, 0.66, 0.27, 0.73, 0.2, 0.8)


def _scores(model, tr, method: str):
    """(edge scores per layer, node scores per node layer) on the CPU, for 'attribution' or
    'magnitude' (nodes: in/out scores)."""
    if method == "attribution":
        edges, nodes = attribution_scores(model, tr)
    else:
        edges = magnitude_scores(tr)
        nodes = inout_scores(model, edges)
    return [e.cpu() for e in edges], [n.cpu() for n in nodes]


# --- layout ----------------------------------------------------------------------------------
def _layout(model):
    """Positions: nodes[l] (n_nodes, 2), subs[l] (n_subnodes, 2) for l >= 1, plot width."""
    specs = model.specs
    width = max(max(s.n_subnodes for s in specs), 1)
    nodes, subs = [], [None]
    for l, spec in enumerate(specs):
        slots = spec.n_subnodes
        xs = (np.arange(slots) + 0.5) * width / slots
        owner = subnode_owner(spec).numpy()
        node_x = np.array([xs[owner == j].mean() for j in range(spec.n_nodes)])
        nodes.append(np.stack([node_x, np.full(spec.n_nodes, float(l))], 1))
        if l > 0:
            sub_y = np.where(owner >= spec.n_sum, l - _SUB_DROP, float(l))
            subs.append(np.stack([xs, sub_y], 1))
    return nodes, subs, float(width)


# --- drawing ---------------------------------------------------------------------------------
def _edge_kind(layer, o: int, i: int, layer_mixed: bool) -> str:
    if bool(layer.symbolic.fixed[o, i]):
        return "symbolic"
    return "mixed" if layer_mixed else "numeric"


@torch.no_grad()
def _curves(model, tr, n_grid: int):
    """Per layer: (grid (n_grid, in_l), values (n_grid, out_l, in_l)) over each input's observed range."""
    out = []
    with eval_mode(model):
        for layer, x in zip(model.layers, tr.inputs):
            lo, hi = x.min(0).values, x.max(0).values
            t = torch.linspace(0.0, 1.0, n_grid, dtype=x.dtype, device=x.device)[:, None]
            grid = lo[None] + (hi - lo)[None] * t
            out.append((grid.cpu().numpy(), layer.edge_activations(grid).cpu().numpy()))
    return out


def _draw_inset(ax, cx, cy, w, h, xs, ys, alpha, color, gid):
    box = Rectangle((cx - w / 2, cy - h / 2), w, h, facecolor="white", edgecolor=color, linewidth=0.6,
                    alpha=alpha, zorder=3, gid=f"box:{gid}")
    ax.add_patch(box)
    span_y = ys.max() - ys.min()
    u = (xs - xs.min()) / max(xs.max() - xs.min(), 1e-12)
    v = (ys - ys.min()) / span_y if span_y > 1e-9 * max(1.0, abs(ys).max()) else np.full_like(ys, 0.5)
    px, py = cx - w / 2 + w * (0.1 + 0.8 * u), cy - h / 2 + h * (0.12 + 0.76 * v)
    ax.add_line(Line2D(px, py, color=color, linewidth=0.9, alpha=alpha, zorder=4, gid=f"inset:{gid}"))


def _overlap(a, b) -> float:
    """Overlap area of two boxes (cx, cy, w, h)."""
    dx = min(a[0] + a[2] / 2, b[0] + b[2] / 2) - max(a[0] - a[2] / 2, b[0] - b[2] / 2)
    dy = min(a[1] + a[3] / 2, b[1] + b[3] / 2) - max(a[1] - a[3] / 2, b[1] - b[3] / 2)
    return dx * dy if dx > 0 and dy > 0 else 0.0


def _place_on_edge(p0, p1, w: float, h: float, placed: list) -> tuple[float, float]:
    """Centre of a (w, h) box on the segment p0 -> p1 that overlaps the boxes in ``placed``
    least (the midpoint if it is free; otherwise the free position nearest to it; without a
    free one, the least overlapping). Greedy and O(len(placed)) per try: cheap for the
    few dozen insets a thinned diagram has. The chosen box is appended to ``placed``."""
    best, best_cost = None, math.inf
    for t in _SLIDE:
        c = (p0[0] + t * (p1[0] - p0[0]), p0[1] + t * (p1[1] - p0[1]))
        cost = sum(_overlap((c[0], c[1], w, h), b) for b in placed)
        if cost < best_cost:
            best, best_cost = c, cost
        if cost == 0.0:
            break
    placed.append((best[0], best[1], w, h))
    return best


def plot_network(model, X, beta: float = 3.0, in_names: Sequence[str] | None = None,
                 out_names: Sequence[str] | None = None, ax=None, *, method: str = "attribution",
                 max_insets: int = 64, n_grid: int = 48, title: str | None = None,
                 figsize: tuple[float, float] | None = None) -> Figure:
    """Draw the network; returns the matplotlib Figure (nothing is shown or saved).

    Args:
        model: a :class:`symkan.KAN`.
        X: (batch, n_inputs) data for the scores and the ranges of the inset curves.
        beta: edge opacity is tanh(beta · score).
        in_names / out_names: labels under the inputs / over the outputs.
        ax: draw into this Axes (its figure is returned); default: a new Figure.
        method: edge scores, ``"attribution"`` or ``"magnitude"``.
        max_insets: above this many alive edges only the strongest ``max_insets`` get
            a curve inset (0: none), placed on their edges without overlapping where
            possible; a legend entry says so, and symbolic edges keep their labels.
        n_grid: points per inset curve.
    """
    check_kan(model)
    check_choice("method", method, EDGE_METHODS)
    beta = check_number("beta", beta)
    max_insets = check_int("max_insets", max_insets, minimum=0)
    n_grid = check_int("n_grid", n_grid, minimum=2)
    in_names = check_names(in_names, model.n_inputs, "in_names")
    out_names = check_names(out_names, model.n_outputs, "out_names", of="outputs")
    tr = trace(model, X)
    edge_sc, node_sc = _scores(model, tr, method)
    curves = _curves(model, tr, n_grid)
    nodes, subs, width = _layout(model)
    n_layers = len(model.layers)

    if ax is None:
        if figsize is None:
            fig_w = min(2.0 + 1.1 * width, 24.0)
            figsize = (fig_w, max(1.0 + 2.4 * n_layers, 0.4 * fig_w))
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure

    alive_edges = []  # (score, l, o, i)
    for l, layer in enumerate(model.layers):
        m = layer.mask.cpu() > 0
        s = edge_sc[l].cpu()
        alive_edges += [(float(s[o, i]), l, o, i) for o, i in torch.nonzero(m).tolist()]
    full = len(alive_edges) <= max_insets
    thin_pos = {}  # thinned mode: (l, o, i) -> inset centre on the edge
    if full:
        with_inset = {(l, o, i) for _, l, o, i in alive_edges}
    else:
        ranked = sorted(alive_edges, key=lambda e: -e[0])[:max_insets]
        with_inset = {(l, o, i) for _, l, o, i in ranked}
        placed = []
        for _, l, o, i in ranked:  # strongest first: they get the midpoints
            w = min(0.5, 0.35 * width / max(model.layers[l].in_features, 1))
            thin_pos[(l, o, i)] = _place_on_edge(nodes[l][i], subs[l + 1][o], w, 0.22, placed)

    kinds_used, node_kinds_used = set(), set()
    no_inset_labels = []  # symbolic edges drawn without an inset: (l, o, i, name, alpha)
    for l, layer in enumerate(model.layers):
        fixed = layer.symbolic.fixed.cpu() & (layer.mask.cpu() > 0)
        layer_mixed = bool(fixed.any()) and bool(((layer.mask.cpu() > 0) & ~fixed).any())
        alive = (layer.mask.cpu() > 0)
        # pykan-style row of boxes between the layers, one slot per alive edge ordered by (in, out)
        order = sorted(((i, o) for o, i in torch.nonzero(alive).tolist()))
        slot = {(o, i): k for k, (i, o) in enumerate(order)}
        n_slots = max(len(order), 1)
        bw = min(0.8 * width / n_slots, 0.45)
        bh = min(0.32, 2.2 * bw) if full else 0.22
        grid, vals = curves[l]
        for o in range(layer.out_features):
            for i in range(layer.in_features):
                score = float(edge_sc[l][o, i])
                alpha = float(np.tanh(beta * score)) if bool(alive[o, i]) else 0.0
                kind = _edge_kind(layer, o, i, layer_mixed)
                color = COLORS[kind]
                (x0, y0), (x1, y1) = nodes[l][i], subs[l + 1][o]
                gid = f"{l}:{i}:{o}"
                if full and bool(alive[o, i]):
                    cx, cy = (slot[(o, i)] + 0.5) * width / n_slots, l + 0.5
                    # broken at the box (NaN) so the line does not show through it
                    px, py = [x0, cx, np.nan, cx, x1], [y0, cy - bh / 2, np.nan, cy + bh / 2, y1]
                else:
                    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
                    px, py = [x0, x1], [y0, y1]
                ax.add_line(Line2D(px, py, color=color, linewidth=1.0, alpha=alpha, zorder=1,
                                   gid=f"edge:{gid}", solid_capstyle="round"))
                if not bool(alive[o, i]):
                    continue
                kinds_used.add(kind)
                label = layer.symbolic.function_name(o, i) if kind == "symbolic" else None
                if (l, o, i) in with_inset:
                    w, h = (bw, bh) if full else (min(0.5, 0.35 * width / max(layer.in_features, 1)), bh)
                    if not full:
                        cx, cy = thin_pos[(l, o, i)]
                    _draw_inset(ax, cx, cy, w, h, grid[:, i], vals[:, o, i], alpha, color, gid)
                    if label:
                        ax.text(cx, cy + h / 2 + 0.01, label, fontsize=7, color=COLORS["symbolic"],
                                alpha=max(alpha, 0.35), ha="center", va="bottom", zorder=5, gid=f"label:{gid}")
                elif label:  # no room for a curve, but a snapped edge always says what it is
                    no_inset_labels.append((l, o, i, label, alpha))

    # labels of symbolic edges without an inset: on the edge, clear of the insets if possible
    label_boxes = [(x, y, w, 0.22) for (l, o, i), (x, y) in thin_pos.items()
                   for w in [min(0.5, 0.35 * width / max(model.layers[l].in_features, 1))]]
    # rough text size in data units: 7 pt characters ≈ 0.06 in wide, 0.1 in tall
    ax_w_in = max(ax.get_position().width * fig.get_figwidth(), 1e-3)
    ax_h_in = max(ax.get_position().height * fig.get_figheight(), 1e-3)
    per_in_x, per_in_y = (width + 0.2) / ax_w_in, (n_layers + 0.9) / ax_h_in
    for l, o, i, name, alpha in no_inset_labels:
        lw, lh = 0.06 * (len(name) + 1) * per_in_x, 0.12 * per_in_y
        x, y = _place_on_edge(nodes[l][i], subs[l + 1][o], lw, lh, label_boxes)
        ax.text(x, y, name, fontsize=7, color=COLORS["symbolic"], alpha=max(alpha, 0.35), ha="center",
                va="center", zorder=5, gid=f"label:{l}:{i}:{o}",
                bbox=dict(boxstyle="square,pad=0.1", facecolor="white", edgecolor="none", alpha=0.8))

    # nodes and product factors
    for l, spec in enumerate(model.specs):
        for j in range(spec.n_nodes):
            x, y = nodes[l][j]
            is_prod = j >= spec.n_sum
            kind = "input" if l == 0 else ("product" if is_prod else "sum")
            node_kinds_used.add("product" if is_prod else "sum")
            # unimportant nodes fade (never fully: the structure stays visible)
            n_alpha = max(float(np.tanh(beta * float(node_sc[l][j]))), 0.2)
            if is_prod:
                ax.add_line(Line2D([x], [y], marker="o", markersize=13, markerfacecolor="white",
                                   markeredgecolor="black", linestyle="none", alpha=n_alpha, zorder=6,
                                   gid=f"node:{l}:{j}", label=kind))
                ax.text(x, y, "×", ha="center", va="center", fontsize=11, alpha=n_alpha, zorder=7)
            else:
                ax.add_line(Line2D([x], [y], marker="o", markersize=6, color="black", linestyle="none",
                                   alpha=n_alpha, zorder=6, gid=f"node:{l}:{j}", label=kind))
        if l > 0 and spec.arities:
            owner = subnode_owner(spec).numpy()
            for o in range(spec.n_subnodes):
                if owner[o] < spec.n_sum:
                    continue
                (sx, sy), (nx_, ny) = subs[l][o], nodes[l][owner[o]]
                ax.add_line(Line2D([sx, nx_], [sy, ny], color="0.4", linewidth=0.8, zorder=5))
                ax.add_line(Line2D([sx], [sy], marker="o", markersize=3, color="0.3", linestyle="none",
                                   zorder=6, gid=f"subnode:{l}:{o}"))
    if in_names:
        for j, name in enumerate(in_names):
            ax.text(nodes[0][j][0], -0.14, name, ha="center", va="top", fontsize=11)
    if out_names:
        for j, name in enumerate(out_names):
            ax.text(nodes[-1][j][0], n_layers + 0.12, name, ha="center", va="bottom", fontsize=11)

    handles = [Line2D([], [], color=COLORS[k], label=k if k != "mixed" else "numeric (layer partly symbolic)")
               for k in ("numeric", "symbolic", "mixed") if k in kinds_used]
    if "product" in node_kinds_used:
        handles += [Line2D([], [], marker="o", color="black", linestyle="none", markersize=6, label="sum node"),
                    Line2D([], [], marker=r"$\otimes$", color="black", linestyle="none", markersize=10,
                           label="product node")]
    note = None
    if not full:  # say in the legend that insets were thinned out
        note = (f"insets thinned: curves for the {len(with_inset)} strongest of {len(alive_edges)} edges"
                if with_inset else f"insets off: {len(alive_edges)} edges (max_insets=0)")
        handles.append(Patch(facecolor="white", edgecolor="0.4", linewidth=0.6, label=note))
    if len(handles) > 1 or note:
        leg = ax.legend(handles=handles, loc="upper left", fontsize=7, frameon=False)
        if note:
            leg.get_texts()[-1].set_gid("note")
    ax.set_xlim(-0.1, width + 0.1)
    ax.set_ylim(-0.45, n_layers + 0.45)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


def to_networkx(model, X, method: str = "attribution", in_names: Sequence[str] | None = None,
                out_names: Sequence[str] | None = None) -> nx.DiGraph:
    """The network as a ``networkx.DiGraph``.

    Nodes: ``(l, j)`` for node j of node layer l, with attributes ``layer``, ``kind``
    ("input", "sum" or "product"), ``score`` (node score: attribution, or the KAN
    paper's in/out score for ``method="magnitude"``), ``output`` (bool), ``name`` for
    named inputs/outputs and ``arity`` for product nodes. A product node's factors are
    extra nodes ``(l, j, k)`` (k-th factor) of kind "subnode", linked to it by edges of
    kind "factor".

    Edges (kind "edge"): one per KAN edge, alive or not, from ``(l, i)`` to the node
    (or factor) fed by sub-node o of layer l, with attributes ``layer``, ``out`` (=o),
    ``in`` (=i), ``score``, ``alive`` (mask) and ``symbolic`` (function name or None).
    """
    check_kan(model)
    check_choice("method", method, EDGE_METHODS)
    in_names = check_names(in_names, model.n_inputs, "in_names")
    out_names = check_names(out_names, model.n_outputs, "out_names", of="outputs")
    tr = trace(model, X)
    edge_sc, node_sc = _scores(model, tr, method)
    g = nx.DiGraph()
    last = len(model.specs) - 1
    targets = []  # per node layer l >= 1: graph key of each sub-node
    for l, spec in enumerate(model.specs):
        owner = subnode_owner(spec).tolist()
        for j in range(spec.n_nodes):
            attrs = {"layer": l, "index": j, "score": float(node_sc[l][j]), "output": l == last,
                     "kind": "input" if l == 0 else ("product" if j >= spec.n_sum else "sum")}
            if j >= spec.n_sum:
                attrs["arity"] = spec.arities[j - spec.n_sum]
            if l == 0 and in_names:
                attrs["name"] = in_names[j]
            if l == last and out_names:
                attrs["name"] = out_names[j]
            g.add_node((l, j), **attrs)
        keys, seen = [], {}
        for o, j in enumerate(owner):
            if j < spec.n_sum:
                keys.append((l, j))
                continue
            k = seen.get(j, 0)
            seen[j] = k + 1
            g.add_node((l, j, k), layer=l, index=j, factor=k, kind="subnode", score=float(node_sc[l][j]),
                       output=False)
            g.add_edge((l, j, k), (l, j), kind="factor", alive=True, score=float(node_sc[l][j]), symbolic=None)
            keys.append((l, j, k))
        targets.append(keys)
    for l, layer in enumerate(model.layers):
        mask = layer.mask.cpu() > 0
        for o in range(layer.out_features):
            for i in range(layer.in_features):
                g.add_edge((l, i), targets[l + 1][o], kind="edge", layer=l, out=o, **{"in": i},
                           score=float(edge_sc[l][o, i]), alive=bool(mask[o, i]),
                           symbolic=layer.symbolic.function_name(o, i))
    return g


__all__ = ["plot_network", "to_networkx"]
